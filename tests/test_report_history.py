"""The site over time: runs and their records read from results/history/, the regressions step
detection finds there, the history and regressions pages, the Atom feed and the compare page's
runs."""

from __future__ import annotations

import random

import sample_results as sample
from tpulens.report.history import analysis_of, is_kept_copy, timeline_of
from tpulens.report.load import load_results

from tpulens.history.settings import Settings

# A latency step of +30 % at the ninth run (commit c08) in ordinary 2 % jitter, and an
# accuracy dip of 4 points at c05 that recovered at c09.
RNG = random.Random(3)
LATENCY = [round(2.0 * (1 + RNG.gauss(0, 0.02)) * (1.3 if i >= 8 else 1), 4) for i in range(12)]
ACCURACY = [0.91, 0.912, 0.909, 0.911, 0.91, 0.87, 0.872, 0.869, 0.871, 0.91, 0.911, 0.909]
STEADY = [round(1.1 * (1 + RNG.gauss(0, 0.02)), 4) for _ in range(12)]


def int8_analysis(run: int) -> dict:
    """Twelve ops on the Edge TPU; from c10 on, the last three fall back to the CPU."""
    ops = [sample.op(i, "CONV_2D", "TPU", sample.MAPPED) for i in range(12)]
    if run >= 10:
        ops[9:] = [sample.op(i, "CONV_2D", "CPU", sample.UNSUPPORTED, "UNSUPPORTED_OP")
                   for i in range(9, 12)]
    return sample.analysis("int8.tflite", ops)


def write_stepped_history(results) -> list[str]:
    series = {
        "int8": {"latency_ms_p50": LATENCY, "accuracy": ACCURACY, "size_bytes": [82_000.0] * 12},
        "float32": {"latency_ms_p50": STEADY, "accuracy": [0.91] * 12},
    }
    analyses = {v: [int8_analysis(i if v == "int8" else 0) for i in range(12)] for v in series}
    return sample.write_history(results, "quantization", series, analyses)


def test_every_run_and_its_records_are_read(tmp_path):
    results = tmp_path / "results"
    ids = write_stepped_history(results)
    loaded = load_results(results)
    assert not loaded.problems
    assert [r.id for r in loaded.runs] == ids
    assert loaded.runs[-1].git_commit == "c11" and loaded.runs[0].machine == "ci"
    assert len(loaded.history) == 24 and {r.run for r in loaded.records} == {ids[-1]}

    timeline = timeline_of(loaded, Settings())
    assert len(timeline.records) == 24  # the newest run's copies give way to the latest records
    assert [is_kept_copy(r) for r in timeline.records[-2:]] == [False, False]
    first = timeline.records[1]
    assert (first.variant, first.run, first.metrics["latency_ms_p50"]) == ("int8", ids[0],
                                                                          LATENCY[0])
    placement = "".join(op["placement"][0] for op in analysis_of(loaded, first).data["ops"])
    latest = next(r for r in timeline.records if r.variant == "int8" and not is_kept_copy(r))
    assert placement == "T" * 12
    assert "".join(op["placement"][0] for op in analysis_of(loaded, latest).data["ops"]) \
        == "T" * 9 + "C" * 3
    assert not loaded.archived.keys() & {r.path for r in loaded.records}  # no page for copies


def test_the_known_steps_are_the_regressions_at_their_commits(tmp_path):
    results = tmp_path / "results"
    write_stepped_history(results)
    timeline = timeline_of(load_results(results), Settings())
    assert [(r.variant, r.metric, r.last_good.git_commit, r.first_bad.git_commit,
             r.still_present) for r in timeline.regressions] == [
        ("int8", "latency_ms_p50", "c07", "c08", True),
        ("int8", "accuracy", "c04", "c05", False),
    ]


def test_records_written_before_history_are_one_run(tmp_path):
    results = sample.write_study_results(tmp_path / "results")
    loaded = load_results(results)
    assert [(r.id, r.git_commit, r.started) for r in loaded.runs] \
        == [("20260101T000000Z-0000000", "0000000", "2026-01-01T00:00:00Z")]
    assert timeline_of(loaded, Settings()).regressions == []


def test_a_foreign_run_file_is_named_and_the_run_still_counts(tmp_path):
    results = tmp_path / "results"
    ids = write_stepped_history(results)
    sample.write(results / "history" / ids[3], "run.json",
                 {"git_commit": 7, "git_dirty": "yes", "started": "2026-01-04T00:00:00Z"})
    (results / "history" / ids[4] / "run.json").write_text("[1, 2]")
    loaded = load_results(results)
    assert loaded.problems == [
        f"history/{ids[3]}/run.json: ignored git_commit is a number, expected a string; "
        "git_dirty is a string, expected a boolean",
        f"history/{ids[4]}/run.json: not a JSON object",
    ]
    assert [r.id for r in loaded.runs] == ids
    assert loaded.runs[3].git_commit is None and loaded.runs[3].git_dirty is None
    assert len(timeline_of(loaded, Settings()).regressions) == 2
