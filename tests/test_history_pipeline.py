"""`tpulens run` keeps its history: consecutive runs with a changed setting both stay, with their
latency samples, the site's history chart draws both, and the suite's retention drops the
oldest."""

from __future__ import annotations

import json

import pytest
from test_report_history import chart_figure
from toy_suite import SUITE, copy_toy

from tpulens.cli import main
from tpulens.history import store
from tpulens.report.site import build_site
from tpulens.runners import pipeline

pytestmark = pytest.mark.slow


def test_consecutive_runs_keep_their_records_and_retention_drops_the_oldest(toy_suite, tmp_path,
                                                                           capsys):
    built, first = toy_suite  # the first run, from an empty cache, shared with other tests
    suite = copy_toy(built, tmp_path)
    results = tmp_path / "results"
    suite.write_text(SUITE.replace("latency_runs = 10", "latency_runs = 12"))
    second = pipeline.run_suite(suite, "quick", jobs=2, progress=False)
    assert (first.written, second.written, second.steps_run) == (2, 2, 2)  # evaluate only

    history = store.load(results)
    assert not history.problems and len(history.runs) == 2
    old_run, new_run = history.runs
    assert new_run.profile == "quick" and new_run.git_commit is None  # not a git checkout
    series = history.series("toy", "int8")
    assert [e.run for e in series] == [old_run, new_run]
    assert [len(e.record["samples"]["latency_ms"]) for e in series] == [10, 12]
    assert json.loads((results / "toy/int8.json").read_text())["run"] == new_run.id
    assert series[0].artifact("analysis").is_file() and series[0].artifact("tflite").is_file()
    model = series[0].artifact("tflite").resolve()  # unchanged by the second run: one copy
    assert model.parent == (results / "models").resolve()
    assert series[1].artifact("tflite").resolve() == model

    page = (build_site(results, tmp_path / "site", plotly_js="").out / "history/toy.html")
    figure = chart_figure(page.read_text(), "metric-latency_ms_p50")
    drawn = next(trace for trace in figure["data"] if trace["name"] == "int8")
    assert drawn["y"] == [e.record["metrics"]["latency_ms_p50"] for e in series]
    assert drawn["x"] == [0, 1] and len(figure["layout"]["xaxis"]["ticktext"]) == 2

    code = main(["diff", str(store.run_dir(results, old_run.id)), str(results),
                 "--format", "json"])
    latency = {m["metric"]: m for v in json.loads(capsys.readouterr().out)["variants"]
               for m in v["metrics"]}["latency_ms_p50"]
    # two runs of one machine: timing is judged, on each run's own samples when it moved
    assert code in (0, 1) and latency["change"] != "not judged"
    assert latency["note"] in ("", "p50 of 10 vs 12 samples")

    suite.write_text(SUITE.replace("latency_runs = 10", "latency_runs = 14")
                     + "\n[history]\nkeep_runs = 1\n")
    pipeline.run_suite(suite, "quick", jobs=2, progress=False)
    history = store.load(results)
    assert len(history.runs) == 1 and not store.run_dir(results, old_run.id).exists()
    assert [len(e.record["samples"]["latency_ms"]) for e in history.series("toy", "int8")] \
        == [14]
