"""Honest labels (report/labels.py, report/origin.py): every latency says where it was measured,
every Edge TPU share who says it, a winner that never reaches the Edge TPU is flagged, the
metric columns follow one naming scheme, and the footer says where the results came from."""

from __future__ import annotations

import html
import json
import re
import subprocess

import pytest
import sample_results as sample

from tpulens.metrics import METRICS, label
from tpulens.report import metric_view as report_metrics
from tpulens.report.charts import axis_title
from tpulens.report.origin import results_origin
from tpulens.report.site import build_site
from tpulens.report.tables import column_label

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]


def text_of(page: str) -> str:
    """The page's text, one space between words, none before punctuation."""
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    return re.sub(r" ([:),.])", r"\1", text)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("labels")
    results = sample.write_study_results(root / "results")
    return results, build_site(results, root / "site").out


def test_every_latency_says_where_it_was_measured(site):
    results, out = site
    threads = sample.SYNTHETIC_ENV["threads"]
    where = f"host CPU, LiteRT, {threads} threads"
    overview = text_of((out / "index.html").read_text())
    cards = overview.split("latency p50 (lower is better): ")[1:]
    assert len(cards) == sum(
        any("latency_ms_p50" in json.loads(p.read_text())["metrics"] for p in exp.glob("*.json"))
        for exp in results.iterdir()
        if exp.name != "analysis"
    )
    assert all(re.match(rf"\S+ [0-9.]+ ms m {where}", card) for card in cards)
    experiment = (out / "experiments/quantization.html").read_text()
    assert f'class="col-group">{where}</th>' in experiment
    charts = [json.loads(c) for c in re.findall(r'data-chart="[^"]+">(.*?)</script>', experiment)]
    axes = [c["layout"]["xaxis"]["title"]["text"] for c in charts]
    assert f"latency p50 (ms, {where})" in axes


def test_edge_tpu_shares_say_who_placed_the_ops_and_float_winners_are_flagged(tmp_path):
    results = tmp_path / "results"
    metrics = {
        "float16": {"latency_ms_p50": 0.1, "edgetpu_ops_tpu": 0, "edgetpu_ops_cpu": 34},
        "int8": {"latency_ms_p50": 0.2, "edgetpu_ops_tpu": 12, "edgetpu_ops_cpu": 0},
    }
    for variant, values in metrics.items():
        sample.write(results, f"q/{variant}.json", sample.record("q", variant, values))
    overview = text_of((build_site(results, tmp_path / "site").out / "index.html").read_text())
    assert "Edge TPU share (higher is better): int8 100.00 % p predicted" in overview
    fastest = overview[overview.index("latency p50 (lower is better)") :]
    assert fastest.startswith(
        "latency p50 (lower is better): float16 0.100 ms m host CPU, LiteRT, 2 threads "
        "no op runs on the Edge TPU (predicted)"
    )


def test_metric_labels_follow_one_scheme():
    for key, meaning in METRICS.items():
        name = label(key)
        assert name and "_" not in name, key
        assert not re.search(r"\b(ms|bytes|pct)\b", name), key  # units are shown beside it
        if meaning.unit == "ms":
            assert meaning.device is not None, key  # a timing always says where
    assert label("latency_ms_p99") == "latency p99" and label("latency_ms_p75") == "latency p75"
    assert label("edgetpu_latency_ms_p50") == "Edge TPU latency p50"


def test_a_header_names_its_unit_once():
    def header(key: str) -> str:
        return column_label(report_metrics.meta(key, None))

    assert header("edgetpu_tpu_subgraphs") == "Edge TPU subgraphs"
    assert header("edgetpu_ops_tpu") == "ops on Edge TPU ↑"
    assert header("latency_ms_p50") == "latency p50 ↓\n(ms)"
    assert header("size_bytes") == "size ↓\n(B)"
    assert axis_title("ops on CPU", "ops", "compiler") == "ops on CPU (compiler)"


def git(cwd, *args):
    subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True)


def test_the_footer_says_where_the_results_came_from(tmp_path):
    repo = tmp_path / "repo"
    results = sample.write_study_results(repo / "results")
    git(repo, "init", "-q")
    git(repo, "add", "results")
    git(repo, "commit", "-q", "-m", "results")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    assert results_origin(results) == f"the results committed in {results}/; built at HEAD {commit}"
    footer = (build_site(results, tmp_path / "site").out / "index.html").read_text()
    made = sample.record("e", "v")["git_commit"]  # the records' own commit, not HEAD
    assert made != commit
    assert (f"from the results committed in {results}/ (records made at commit {made}); "
            f"built at HEAD {commit}.") in footer

    (results / "quantization/int8.json").write_text("{}")
    assert results_origin(results, 0, ["c1", "c2+dirty"]) == (
        f"{results}/ with uncommitted changes (records made at commits c1, c2+dirty); "
        f"built at HEAD {commit}"
    )
    assert results_origin(results, 0, ["a", "b", "c", "d", "e"]).endswith(
        "(records made at commits a, b, c and 2 more); built at HEAD " + commit
    )

    adhoc = sample.write_study_results(tmp_path / "elsewhere")
    assert results_origin(adhoc) == f"an ad-hoc results directory ({adhoc}/), not committed results"
    untracked = sample.write_study_results(repo / "mine")
    assert results_origin(untracked).startswith("an ad-hoc results directory")
    assert results_origin(None, 2) == "2 analysis JSONs given with --analysis (no result records)"
    assert results_origin(adhoc, 1).endswith(", and 1 analysis JSON given with --analysis")
