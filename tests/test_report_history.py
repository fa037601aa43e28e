"""The site over time: runs and their records read from results/history/, the regressions step
detection finds there, the history and regressions pages, the Atom feed and the compare page's
runs."""

from __future__ import annotations

import json
import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import sample_results as sample

from tpulens.history.settings import Settings
from tpulens.report.load import load_results
from tpulens.report.site import build_site
from tpulens.report.timeline import analysis_of, is_kept_copy, timeline_of

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


def chart_figure(page: str, chart_id: str) -> dict:
    found = re.search(f'data-chart="{chart_id}">(.*?)</script>', page)
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def stepped_site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stepped")
    write_stepped_history(root / "results")
    return build_site(root / "results", root / "site", plotly_js="").out


def test_the_history_chart_shows_every_run_and_marks_the_step(stepped_site):
    page = (stepped_site / "history/quantization.html").read_text()
    figure = chart_figure(page, "metric-latency_ms_p50")
    traces = {t["name"]: t for t in figure["data"]}
    assert traces["int8"]["x"] == list(range(12)) and traces["int8"]["y"] == LATENCY
    assert traces["float32"]["y"] == STEADY
    assert (traces["regression"]["x"], traces["regression"]["y"]) == ([8], [LATENCY[8]])
    assert figure["layout"]["xaxis"]["ticktext"] == [f"c{i:02d}" for i in range(12)]
    hover, link = traces["int8"]["customdata"][8]
    assert "c08" in hover and f"{LATENCY[8]:.3f} ms" in hover
    assert link == ("../compare/quantization.html?a=int8&a_run=20260108T000000Z-c07"
                    "&b=int8&b_run=20260109T000000Z-c08")
    accuracy = chart_figure(page, "metric-accuracy")
    assert [round(y, 1) for y in accuracy["data"][1]["y"]] == [round(a * 100, 1) for a in ACCURACY]
    assert "recovered" in accuracy["data"][-1]["customdata"][0][0]
    assert page.count('class="plotly-chart"') == 3  # accuracy, size, latency
    assert page.count("<tr>") == 1 + 12  # the runs table
    assert "not committed results (records made at commit c11)." in page  # the footer


def test_the_regressions_page_names_the_commits(stepped_site):
    page = (stepped_site / "regressions.html").read_text()
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)[1:]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    assert len(cells) == 2
    first = [re.sub(r"<[^>]+>", "", c) for c in cells[0]]
    # the values of the records at the last good and the first bad commit
    assert first[1:6] == ["int8", "latency p50", f"{LATENCY[7]:.3f} ms", f"{LATENCY[8]:.3f} ms",
                          first[5]]
    assert first[6].endswith("c07") and first[7].endswith("c08")
    assert first[8] == f"still worse: {LATENCY[-1]:.3f} ms"
    assert 'href="history/quantization.html#metric-latency_ms_p50"' in cells[0][2]
    assert [re.sub(r"<[^>]+>", "", c[7]).endswith("c05") for c in cells] == [False, True]
    assert "1 still present" in page and 'type="application/atom+xml"' in page


ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def assert_valid_atom(data: bytes, site: Path) -> list:
    """What RFC 4287 requires of a feed and its entries (§4.1.1, §4.1.2), with every link
    resolving to a file of the site; the entries."""
    feed = ET.fromstring(data)
    assert feed.tag == f"{ATOM}feed"
    for parent in (feed, *feed.findall(f"{ATOM}entry")):
        for tag in ("id", "title", "updated"):
            assert len(parent.findall(f"{ATOM}{tag}")) == 1, (parent.tag, tag)
        assert RFC3339.fullmatch(parent.findtext(f"{ATOM}updated"))
        assert parent.findtext(f"{ATOM}id").startswith("urn:uuid:")
        for link in parent.findall(f"{ATOM}link"):
            path = urlsplit(link.get("href")).path
            assert (site / unquote(path)).is_file(), link.get("href")
    assert feed.find(f"{ATOM}author/{ATOM}name") is not None
    entries = feed.findall(f"{ATOM}entry")
    for entry in entries:
        assert entry.find(f"{ATOM}link[@rel='alternate']") is not None  # no content: a link
        assert entry.find(f"{ATOM}summary").text
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == len(ids)
    return entries


def test_the_feed_is_atom_with_a_permalink_per_regression(stepped_site, tmp_path):
    data = (stepped_site / "regressions.xml").read_bytes()
    entries = assert_valid_atom(data, stepped_site)
    assert [e.findtext(f"{ATOM}updated") for e in entries] \
        == ["2026-01-09T00:00:00Z", "2026-01-06T00:00:00Z"]
    assert entries[0].findtext(f"{ATOM}title") \
        == "quantization/int8: latency p50 worse since c08 (still worse)"
    link = entries[0].find(f"{ATOM}link").get("href")
    assert parse_qs(urlsplit(link).query) == {
        "a": ["int8"], "a_run": ["20260108T000000Z-c07"],
        "b": ["int8"], "b_run": ["20260109T000000Z-c08"]}
    again = build_site(stepped_site.parent / "results", tmp_path / "again", plotly_js="").out
    assert (again / "regressions.xml").read_bytes() == data  # same results, same feed


def test_hostile_names_and_times_keep_the_feed_valid(tmp_path):
    results = tmp_path / "results"
    name = "int8\x01<b>&\"'\ufffe"
    sample.write_history(results, "quantization", {name: {"accuracy": [0.9] * 4 + [0.8] * 4}})
    run = json.loads(next((results / "history").glob("*c04/run.json")).read_text())
    run["started"] = "yesterday"
    sample.write(results / "history" / run["id"], "run.json", run)
    site = build_site(results, tmp_path / "site", plotly_js="").out
    data = (site / "regressions.xml").read_bytes()
    (entry,) = assert_valid_atom(data, site)
    assert entry.findtext(f"{ATOM}updated") == "1970-01-01T00:00:00Z"
    assert "int8\ufffd<b>&\"'\ufffd" in entry.findtext(f"{ATOM}title")


def test_the_compare_page_offers_every_run_of_every_variant(stepped_site):
    page = (stepped_site / "compare/quantization.html").read_text()
    payload = json.loads(re.search(r'id="compare-data">(.*?)</script>', page).group(1))
    assert payload["variants"] == ["float32", "int8"]
    assert [r["label"][-3:] for r in payload["runs"]] == [f"c{i:02d}" for i in range(12)]
    int8 = [e for e in payload["entries"] if e["variant"] == "int8"]
    assert [e["run"] for e in int8] == list(range(12))
    assert [e["latest"] for e in int8] == [False] * 11 + [True]
    assert int8[-1]["model"] == "../models/quantization-int8.html" and int8[0]["model"] is None
    assert [e["metrics"]["latency_ms_p50"][0] for e in int8] == LATENCY
    assert [e["placement"] for e in int8[9:11]] == ["T" * 12, "T" * 9 + "C" * 3]
    assert len({e["sig"] for e in payload["entries"]}) == 1  # the same ops in every run


def test_every_history_chart_says_where_its_figure_comes_from(tmp_path):
    results = tmp_path / "results"
    series = {"int8": {"latency_ms_p50": STEADY[:3], "edgetpu_ops_tpu": [12.0, 12.0, 9.0],
                       "edgetpu_ops_tpu_compiler": [12.0, 11.0, 9.0]}}
    sample.write_history(results, "quantization", series)
    for path in results.rglob("quantization/int8.json"):  # the runners record the compiler
        record = json.loads(path.read_text())
        record["metric_info"]["edgetpu_ops_tpu_compiler"] = {"source": "compiler"}
        path.write_text(json.dumps(record))
    page = (build_site(results, tmp_path / "site", plotly_js="").out
            / "history/quantization.html").read_text()
    titles = {
        key: chart_figure(page, f"metric-{key}")["layout"]["yaxis"]["title"]["text"]
        for key in series["int8"]
    }
    assert titles == {
        "latency_ms_p50": "latency p50 (ms, host CPU, LiteRT, 2 threads)",
        "edgetpu_ops_tpu": "ops on Edge TPU (predicted)",
        "edgetpu_ops_tpu_compiler": "ops on Edge TPU (compiler)",
    }
    assert 'aria-label="latency p50 (host CPU, LiteRT, 2 threads) across runs"' in page
