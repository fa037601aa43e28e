"""The report renderer on fixture results: content, provenance, robustness, determinism,
inert HTML for hostile names, the CLI and the local server."""

from __future__ import annotations

import html
import json
import re
import shutil
import threading
import urllib.request
from pathlib import Path

import plotly.graph_objects as go
import pytest
import sample_results as sample
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tpulens.cli import main as tpulens_main
from tpulens.errors import InputError
from tpulens.report.charts import experiment_charts
from tpulens.report.cli_serve import make_server
from tpulens.report.diagnostics import node_data
from tpulens.report.load import load_results, normalize_analysis
from tpulens.report.metric_view import pareto_front
from tpulens.report.site import build_site, experiments_of

HOSTILE = '"><script>window.__pwned=1;alert(1)</script>'
HOSTILE_IMG = '\'"><img src=x onerror="window.__pwned=2;alert(2)">'
HOSTILE_FILE = "x'\"><svg onload=alert(3)>"  # no '/': file and directory names


def read(site: Path, rel: str) -> str:
    return (site / rel).read_text()


def text_of(page: str) -> str:
    """Visible-ish text: tags stripped, entities decoded (enough for content assertions)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("study")
    results = sample.write_study_results(root / "results")
    return results, build_site(results, root / "site").out


def records_of(results: Path, experiment: str) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (results / experiment).glob("*.json")}


def test_verdict_names_the_best_ok_variant_per_objective(study):
    results, site = study
    overview = text_of(read(site, "index.html"))
    for experiment in ("quantization", "collaborative"):
        records = [r for r in records_of(results, experiment).values() if r["status"] == "ok"]
        best_acc = max(r["metrics"]["accuracy"] for r in records)
        winners = sorted(r["variant"] for r in records if r["metrics"]["accuracy"] == best_acc)
        smallest = min(records, key=lambda r: r["metrics"]["size_bytes"])
        assert f"accuracy (higher is better): {', '.join(winners)}" in overview
        assert f"size (lower is better): {smallest['variant']}" in overview


def test_experiment_page_shows_every_record_with_provenance(study):
    results, site = study
    page = read(site, "experiments/quantization.html")
    records = records_of(results, "quantization")
    body = page[page.index('<table id="cmp-quantization"') :]
    body = body[body.index("<tbody>") : body.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    assert len(rows) == len(records)  # skipped records are listed too
    skipped = next(r for r in records.values() if r["status"] == "skipped")
    assert skipped["notes"][0] in text_of(page)
    # every number carries a provenance tooltip and badge
    cells = re.findall(r'<td[^>]* data-v="[-0-9.e]+"[^>]*>', body)
    assert cells and all('title="measured on ' in c or 'title="predicted' in c for c in cells)
    # a latency says where it was measured, in its cells and its column header
    latency = [c for c in cells if "host CPU" in c]
    assert len(latency) == sum("latency_ms_p50" in r["metrics"] for r in records.values())
    assert all("synthetic fixture (x86_64), with LiteRT, 2 threads" in c for c in latency)
    assert '<th colspan="1" class="col-group">host CPU, LiteRT, 2 threads</th>' in page
    assert "latency p50 ↓\n(ms)</th>" in page


def test_study_tables_follow_the_write_ups(study):
    results, site = study
    collab = text_of(read(site, "experiments/collaborative.html"))
    for record in records_of(results, "collaborative").values():
        metrics = record["metrics"]
        if "gzip_bytes" in metrics:
            size, gz = metrics["size_bytes"], metrics["gzip_bytes"]
            assert f"{size:,} → {gz:,} ({(1 - gz / size) * 100:.2f} %)" in collab
    assert "INT8 top-1" in collab and "FP32 top-1" in collab
    detection = text_of(read(site, "experiments/detection.html"))
    recs = records_of(results, "detection")
    delta = recs["int8"]["metrics"]["coco_AP50"] - recs["float"]["metrics"]["coco_AP50"]
    assert re.search(rf"AP50\s*{recs['float']['metrics']['coco_AP50']:.3f}", detection)
    assert f"{delta:+.3f}" in detection
    assert "n/a (-1)" in detection  # COCO's -1 is not shown as a score
    quant = read(site, "experiments/quantization.html")
    assert "Quantization objective" in quant and "ms / image" in quant


def test_charts_are_valid_plotly_figures_with_stable_ids(study):
    results, _ = study
    charts = [c for e in experiments_of(load_results(results)) for c in experiment_charts(e.data)]
    ids = [c.id for c in charts]
    assert len(ids) == len(set(ids))
    assert {
        "chart-quantization-acc-size",
        "chart-quantization-acc-latency",
        "chart-collaborative-size",
        "chart-quantization-share",
    } <= set(ids)
    for chart in charts:
        go.Figure(chart.figure)  # raises on any invalid property


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=30))
def test_pareto_front_is_exactly_the_non_dominated_points(points):
    front = set(pareto_front(points))

    def dominated(i):
        x, y = points[i]
        return any((px <= x and py >= y) and (px, py) != (x, y) for px, py in points)

    expected_values = {points[i] for i in range(len(points)) if not dominated(i)}
    assert {points[i] for i in front} == expected_values
    assert len(front) == len(expected_values)  # one index per distinct front point


def test_diagnostics_page_links_root_causes_and_exports_node_data(study):
    results, site = study
    analysis = json.loads((results / "analysis/detection-int8.json").read_text())
    page = read(site, "models/detection-int8.html")
    for op in analysis["ops"]:
        assert f'id="op-0-{op["index"]}"' in page
        if op["root_cause"] is not None:
            assert f'href="#op-0-{op["root_cause"]}"' in page
    nodes = re.findall(r'<a class="op (tpu|cpu)( rc)?[^"]*" href="#op-0-\d+" data-op=', page)
    assert [c[0] for c in nodes] == [op["placement"].lower() for op in analysis["ops"]]
    causes = {op["root_cause"] for op in analysis["ops"]} - {None}
    assert sum(1 for c in nodes if c[1]) == len(causes)
    assert (site / "models/detection-int8.analysis.json").read_bytes() == (
        results / "analysis/detection-int8.json"
    ).read_bytes()
    exported = json.loads(read(site, "models/detection-int8.node_data.json"))
    assert exported == node_data(normalize_analysis(analysis))
    results_map = exported["graphsData"]["main"]["results"]
    for op in analysis["ops"]:
        name = op["output_tensors"][0]["name"]
        assert results_map[name]["value"] == (1 if op["placement"] == "TPU" else 0)


def test_links_are_relative_and_nothing_is_fetched_from_outside(study):
    _, site = study
    for page in site.rglob("*.html"):
        text = page.read_text()
        for attr, url in re.findall(r'(href|src)="([^"]*)"', text):
            if url == "https://netron.app/":
                continue  # a link the user may follow, never loaded by the page
            assert not re.match(r"^([a-z]+:|/)", url), f"{page}: {attr}={url}"
        assert "@import" not in text and "fonts.googleapis" not in text
    assert (site / "assets/plotly.min.js").stat().st_size > 1_000_000
    assert not any("Plotly.newPlot" in p.read_text() for p in site.rglob("*.html"))


def test_two_builds_are_byte_identical(tmp_path):
    results = sample.write_study_results(tmp_path / "results")
    a = build_site(results, tmp_path / "a").out
    b = build_site(results, tmp_path / "elsewhere" / "b").out
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_broken_and_partial_inputs_are_shown_not_fatal(tmp_path):
    results = tmp_path / "results"
    sample.write(results, "exp/ok.json", sample.record("exp", "ok", {"accuracy": 0.5}))
    junk = sample.record("exp", "junk", {"accuracy": "high", "size_bytes": float("nan")})
    sample.write(results, "exp/junk.json", junk)
    sample.write(
        results,
        "exp/lost.json",
        sample.record("exp", "lost", status="failed", analysis="analysis/none.json"),
    )
    (results / "exp/broken.json").write_text("{not json")
    site = build_site(results, tmp_path / "site")
    assert any("broken.json" in p for p in site.problems)
    assert any("analysis/none.json" in p for p in site.problems)
    overview = text_of(read(site.out, "index.html"))
    assert "exp/broken.json: unreadable" in overview
    page = text_of(read(site.out, "experiments/exp.html"))
    assert "junk" in page and "lost" in page and "failed" in page


ASSETS_JS = ("site.js", "plotly.min.js", "op-graph.js")


def test_hostile_names_render_inert(tmp_path):
    results = tmp_path / "results"
    ops = [
        sample.op(0, HOSTILE, "TPU", sample.MAPPED, name=HOSTILE_IMG),
        sample.op(1, "CUSTOM", "CPU", HOSTILE, "UNSUPPORTED_OP", name=HOSTILE),
    ]
    sample.write(results, f"analysis/{HOSTILE_FILE}.json", sample.analysis(HOSTILE_IMG, ops))
    record = sample.record(
        HOSTILE,
        HOSTILE_IMG,
        {"accuracy": 0.5, "size_bytes": 10},
        analysis=f"analysis/{HOSTILE_FILE}.json",
        notes=[HOSTILE],
    )
    record["params"] = {HOSTILE: HOSTILE_IMG}
    sample.write(results, f"{HOSTILE_FILE}/{HOSTILE_FILE}.json", record)
    sample.write(
        results,
        f"{HOSTILE_FILE}/b.json",
        sample.record(HOSTILE, "b", {"accuracy": 0.4, "size_bytes": 5}),
    )
    site = build_site(results, tmp_path / "site").out
    assert len(list((site / "experiments").glob("*.html"))) == 1
    assert len(list((site / "models").glob("*.analysis.json"))) == 1
    assert HOSTILE_IMG in text_of(read(site, "index.html"))  # shown, as text
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert "<script>window.__pwned" not in text and "<img src=x" not in text, page
        assert text.count("<svg") == text.count('<svg class="op-graph"'), page
        for tag in re.findall(r"<script[^>]*>", text):
            assert tag in (
                *(f'<script src="{root}assets/{js}">' for root in ("", "../") for js in ASSETS_JS),
                '<script defer src="../assets/compare.js">',
                '<script defer src="../assets/history.js">',
                '<script type="application/json" id="compare-data">',
            ) or re.match(r'<script type="application/json" data-chart="(chart|metric)-', tag), tag
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", p.name) for p in site.rglob("*"))


def test_cli_builds_and_rejects_bad_input(tmp_path, capsys):
    results = sample.write_study_results(tmp_path / "results")
    out = tmp_path / "site"
    assert tpulens_main(["report", "--results", str(results), "--out", str(out)]) == 0
    assert (out / "index.html").is_file()
    assert tpulens_main(["report", "--results", str(tmp_path / "nope"), "--out", str(out)]) == 2
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("do not delete")
    assert tpulens_main(["report", "--results", str(results), "--out", str(precious)]) == 2
    assert (precious / "thesis.tex").exists()
    assert "not a tpulens site" in capsys.readouterr().err


def test_extra_analysis_gets_a_page(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    extra = sample.write(tmp_path, "mine.json", sample.chain_analysis("mine.tflite", 5, 3))
    site = build_site(results, tmp_path / "site", [extra]).out
    assert "mine.tflite" in read(site, "models/mine.html")
    assert 'href="models/mine.html"' in read(site, "index.html")


def test_serve_answers_on_localhost(study):
    _, site = study
    server = make_server(site, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://{host}:{port}/index.html", timeout=5) as reply:
            assert reply.status == 200 and b"Which variant wins" in reply.read()
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(InputError):
        make_server(site / "models" / "nothing-here", 0)


def test_supported_ops_page_lists_the_rule_table(tmp_path):
    from tpulens.analyzer import reference

    results = tmp_path / "results"
    results.mkdir()
    page = text_of(read(build_site(results, tmp_path / "site").out, "supported-ops.html"))
    rules = reference.supported_ops()
    assert rules
    for rule in rules:
        assert rule["opcode"] in page


from tpulens.analyzer.ground_truth import CORPUS  # noqa: E402


@pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"{CORPUS} absent (the shared corpus sits beside the checkout)"
)
def test_diagnostics_of_a_real_corpus_model(tmp_path):
    from tpulens.analyzer import analyze_file

    model = CORPUS / "pairs/edgetpu/deeplabv3_mnv2_pascal_quant.tflite"
    analysis = analyze_file(model)
    results = tmp_path / "results"
    # Where `tpulens run` keeps the model: the run cache beside results/ (a published tree).
    cached = tmp_path / ".cache/tpulens/steps/convert-0/model.tflite"
    cached.parent.mkdir(parents=True)
    shutil.copyfile(model, cached)
    analysis["model"]["path"] = "../.cache/tpulens/steps/convert-0/model.tflite"
    sample.write(results, "analysis/deeplab.json", analysis)
    sample.write(
        results,
        "segmentation/deeplab.json",
        sample.record(
            "segmentation",
            "deeplab",
            {"size_bytes": model.stat().st_size},
            analysis="analysis/deeplab.json",
        ),
    )
    build = build_site(results, tmp_path / "site")
    assert not build.problems
    site = build.out
    page = read(site, "models/deeplab.html")
    ops = analysis["ops"]
    rows = re.findall(r'<tr id="op-0-\d+"( hidden)?>(.*?)</tr>', page, re.DOTALL)
    assert len(rows) == len(ops)  # a row per op, some folded into a run
    cells = [re.search(r'<td class="place-(tpu|cpu)">', row).group(1) for _, row in rows]
    assert cells.count("cpu") == analysis["summary"]["ops_cpu"] > 0
    assert cells.count("tpu") == analysis["summary"]["ops_tpu"]
    text = text_of(page)
    for op in ops:
        if op["root_cause"] is not None:
            assert f'href="#op-0-{op["root_cause"]}"' in page
        if op["placement"] == "CPU" and op["explanation"]:
            assert op["explanation"] in text
    assert "Why ops leave the Edge TPU" in text and analysis["source"] in text
    for row in analysis["table"]:
        assert row["status"] in text
    assert (site / "models/deeplab.tflite").read_bytes() == model.read_bytes()


def test_compiled_analysis_is_linked_and_other_artifacts_are_skipped(tmp_path):
    results = tmp_path / "results"
    predicted = sample.chain_analysis("m.tflite", 6, 3)
    compiled = dict(sample.chain_analysis("m_edgetpu.tflite", 6), source="compiler")
    sample.write(results, "analysis/e-v.json", predicted)
    sample.write(results, "analysis/e-v.compiled_analysis.json", compiled)
    sample.write(results, "analysis/e-v.comparison.json", {"disagreements": []})
    record = sample.record("e", "v", {"accuracy": 0.5}, analysis="analysis/e-v.json")
    record["artifacts"]["compiled_analysis"] = "analysis/e-v.compiled_analysis.json"
    sample.write(results, "e/v.json", record)
    site = build_site(results, tmp_path / "site")
    assert not site.problems
    pages = sorted(p.name for p in (site.out / "models").glob("*.html"))
    assert pages == ["e-v.compiled_analysis.html", "e-v.html", "index.html"]
    experiment = read(site.out, "experiments/e.html")
    assert 'href="../models/e-v.compiled_analysis.html">diagnostics (compiler)' in experiment
    assert "real edgetpu_compiler output" in read(site.out, "models/e-v.compiled_analysis.html")


def test_derived_metrics_prefer_the_real_compiler_and_keep_provenance():
    from tpulens.report.load import Record
    from tpulens.report.metric_view import effective_metrics

    metrics = {
        "edgetpu_ops_tpu": 9,
        "edgetpu_ops_cpu": 1,
        "edgetpu_ops_tpu_compiler": 6,
        "edgetpu_ops_cpu_compiler": 4,
        "size_bytes": 1000,
        "gzip_bytes": 800,
    }
    info = {
        "edgetpu_ops_tpu": {"source": "predicted"},
        "edgetpu_ops_tpu_compiler": {"source": "compiler"},
        "size_bytes": {"source": "measured"},
    }
    record = Record("e", "v", "ok", metrics, info, {}, {}, {}, {}, "", "", [], "e/v.json")
    derived = effective_metrics(record, None)
    assert derived["edgetpu_share"] == (6 / 10, "compiler")
    assert derived["compression_pct"] == pytest.approx((100 * (1 - 800 / 1000), "measured"))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    record_junk=st.dictionaries(
        st.sampled_from(
            [
                "metrics",
                "metric_info",
                "params",
                "artifacts",
                "environment",
                "notes",
                "status",
                "experiment",
                "variant",
                "created",
                "git_commit",
            ]
        ),
        JSON,
        max_size=4,
    ),
    analysis_junk=st.dictionaries(
        st.sampled_from(
            ["model", "source", "summary", "table", "errors", "ops", "options", "subgraphs"]
        ),
        JSON,
        max_size=3,
    ),
    op_junk=st.dictionaries(
        st.sampled_from(list(sample.op(0, "ADD", "TPU", "m"))), JSON, max_size=3
    ),
)
def test_malformed_records_and_analyses_never_crash_the_build(
    tmp_path_factory, record_junk, analysis_junk, op_junk
):
    results = tmp_path_factory.mktemp("junk") / "results"
    ops = [sample.op(0, "ADD", "TPU", sample.MAPPED), sample.op(1, "CUSTOM", "CPU", "x")]
    analysis = sample.analysis("m.tflite", ops)
    ops[1].update(op_junk)
    analysis.update(analysis_junk)
    sample.write(results, "analysis/a.json", analysis)
    record = sample.record("e", "v", {"accuracy": 0.5}, analysis="analysis/a.json")
    record.update(record_junk)
    sample.write(results, "e/v.json", record)
    sample.write(results, "e/w.json", sample.record("e", "w", {"accuracy": 0.6}))
    site = build_site(results, results.parent / "site", plotly_js="")
    assert (site.out / "index.html").is_file()


def test_duplicate_variant_names_stay_apart(tmp_path):
    results = tmp_path / "results"
    sample.write(results, "e/a.json", sample.record("e", "same", {"accuracy": 0.1}))
    sample.write(results, "e/b.json", sample.record("e", "same", {"accuracy": 0.9}))
    site = build_site(results, tmp_path / "site")
    page = text_of(read(site.out, "experiments/e.html"))
    assert "10.00" in page and "90.00" in page
    assert any("duplicate variant e/same" in p for p in site.problems)


def nav_labels(page: str) -> list[str]:
    nav = page[page.index("<nav>") : page.index("</nav>")]
    return re.findall(r'<a href="[^"]*">([^<]*)</a>', nav)


def test_pages_and_navigation_come_from_the_publisher_registry(tmp_path, monkeypatch):
    from tpulens.report import site as site_module
    from tpulens.report.pages import PUBLISHERS
    from tpulens.report.publisher import Publisher

    assert len({p.name for p in PUBLISHERS}) == len({p.order for p in PUBLISHERS}) == len(
        PUBLISHERS
    )

    class Notes(Publisher):  # what a new page module holds
        name = "notes"
        order = 55
        nav_label = "Notes"
        nav_href = "notes.html"

        @classmethod
        def publish(cls, content, writer):
            writer.page("notes.html", "environment.html", title="Notes", environments=[],
                        problems=[f"{len(content.models)} models"])

    monkeypatch.setattr(site_module, "PUBLISHERS", (*PUBLISHERS, Notes))
    results = sample.write_study_results(tmp_path / "results")
    built = build_site(results, tmp_path / "site", plotly_js="")
    assert "notes.html" in built.pages and "2 models" in read(built.out, "notes.html")
    expected = ["Overview", "Experiments", "Regressions", "Model diagnostics", "Supported ops",
                "Notes", "Environment"]
    for rel in ("index.html", "notes.html", "models/detection-int8.html"):
        assert nav_labels(read(built.out, rel)) == expected
    monkeypatch.setattr(site_module, "PUBLISHERS", PUBLISHERS)
    extra = sample.write(tmp_path, "mine.json", sample.chain_analysis("mine.tflite", 5, 3))
    alone = build_site(None, tmp_path / "alone", [extra], plotly_js="")
    assert nav_labels(read(alone.out, "index.html")) == [  # no experiment: no such entry
        "Overview", "Model diagnostics", "Supported ops", "Environment"]
    assert not (alone.out / "regressions.html").exists()
    assert not (alone.out / "regressions.xml").exists()
