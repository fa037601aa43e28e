"""The report on hostile and broken inputs (the red team's findings): special files, oversized
and deeply nested JSON, unknown schema versions, wrong-type fields, model paths that leave the
results and cache trees, records with very many metrics, a NUL byte sent to `tpulens serve`;
and the analysis-only site built anywhere."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
import sample_results as sample

from tpulens.cli import main as tpulens_main
from tpulens.report import files
from tpulens.report.cli_serve import make_server
from tpulens.report.load import load_results
from tpulens.report.site import build_site


def problems_of(results: Path, extra: list[Path] = ()) -> list[str]:
    return load_results(results, extra).problems


def one_record(results: Path, **fields) -> Path:
    record = sample.record("e", "v", {"accuracy": 0.5})
    record.update(fields)
    return sample.write(results, "e/v.json", record)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    results = tmp_path / "results"
    one_record(results)
    fifo = results / "e" / "w.json"
    os.mkfifo(fifo)
    loaded = []
    thread = threading.Thread(target=lambda: loaded.append(load_results(results)), daemon=True)
    thread.start()
    thread.join(timeout=30)
    if thread.is_alive():  # blocked in open(): release it by opening the writing end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("load_results blocked on a FIFO")
    assert "e/w.json: not a regular file (a FIFO)" in loaded[0].problems
    assert [r.variant for r in loaded[0].records] == ["v"]
    assert problems_of(None, [fifo]) == [f"{fifo}: not a regular file (a FIFO)"]  # --analysis


def test_a_link_to_dev_zero_is_refused_and_reading_is_bounded(tmp_path, monkeypatch):
    # Small limits: were the file-type check to fail, reading would stop after 1 MB.
    monkeypatch.setattr(files, "MAX_RECORD_BYTES", 1024 * 1024)
    monkeypatch.setattr(files, "MAX_ANALYSIS_BYTES", 1024 * 1024)
    results = tmp_path / "results"
    one_record(results)
    zero = results / "e" / "zero.json"
    zero.symlink_to("/dev/zero")
    sample.write(results, "e/big.json", {"notes": ["x" * 2 * 1024 * 1024]})
    problems = problems_of(results, [zero])
    assert "e/zero.json: not read: e/zero.json is a symbolic link, not followed" in problems
    assert f"{zero}: not a regular file (a character device)" in problems  # --analysis
    assert "e/big.json: larger than the 1,048,576-byte limit" in problems


def test_an_oversized_analysis_is_refused_at_once(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_ANALYSIS_BYTES", 1024 * 1024)
    big = sample.write(tmp_path, "big.json", sample.chain_analysis("big.tflite", 3000))
    assert big.stat().st_size > 1024 * 1024
    start = time.perf_counter()
    assert problems_of(None, [big]) == [f"{big}: larger than the 1,048,576-byte limit"]
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("depth", [100, 200_000])  # parsed, then refused; RecursionError in json
def test_deeply_nested_json_is_one_problem(tmp_path, depth):
    results = tmp_path / "results"
    one_record(results)
    (results / "e" / "deep.json").write_text('{"params": ' + "[" * depth + "]" * depth + "}")
    site = build_site(results, tmp_path / "site", plotly_js="")
    assert site.problems == [f"e/deep.json: JSON nested deeper than {files.MAX_DEPTH} levels"]


def test_an_unknown_schema_version_refuses_the_file(tmp_path):
    results = tmp_path / "results"
    analysis = {**sample.chain_analysis("a", 3), "schema_version": 99}
    sample.write(results, "analysis/a.json", analysis)
    one_record(results, schema_version=99)
    sample.write(results, "e/w.json", sample.record("e", "w", analysis="analysis/a.json"))
    loaded = load_results(results)
    assert loaded.records[0].variant == "w" and not loaded.analyses
    reason = "schema_version 99 is not supported (this tpulens reads {}); file skipped"
    assert sorted(loaded.problems) == [f"analysis/a.json: {reason.format('1 to 2')}",
                                       f"e/v.json: {reason.format('1')}"]


RECORD_JUNK = [
    ("metrics", [0.5], "metrics is a list, expected an object"),
    ("metrics", {"accuracy": "high"}, "metrics.accuracy is a string, expected a number"),
    ("metrics", {"accuracy": float("nan")}, "metrics.accuracy is not finite"),
    ("status", {"ok": True}, "status is an object, expected a string"),
    ("status", "great", "status 'great' is not one of ok, skipped, failed"),
    ("notes", "a note", "notes is a string, expected a list"),
    ("notes", [1], "notes[0] is a number, expected a string"),
    ("params", [1, 2], "params is a list, expected an object"),
    ("artifacts", {"analysis": 5}, "artifacts.analysis is a number, expected a path"),
    ("environment", "x86", "environment is a string, expected an object"),
    ("timings", [1.0], "timings is a list, expected an object"),
    ("experiment", 5, "experiment is a number, expected a string"),
    ("git_commit", ["abc"], "git_commit is a list, expected a string"),
    ("created", True, "created is a boolean, expected a string"),
    ("metric_info", {"accuracy": "x"}, "metric_info.accuracy is a string, expected an object"),
    ("metric_info", {"accuracy": {"better": "up"}}, "metric_info.accuracy.better 'up' is not one"),
]


@pytest.mark.parametrize("key,value,expected", RECORD_JUNK)
def test_wrong_record_fields_are_named(tmp_path, key, value, expected):
    results = tmp_path / "results"
    one_record(results, **{key: value})
    loaded = load_results(results)
    assert len(loaded.records) == 1
    assert [p for p in loaded.problems if expected in p and p.startswith("e/v.json: ignored ")]


def op_with(**fields) -> dict:
    return {**sample.op(0, "ADD", "TPU", sample.MAPPED), **fields}


ANALYSIS_JUNK = [
    ({"ops": {"0": {}}}, "ops is an object, expected a list"),
    ({"ops": [op_with(placement="GPU")]}, "ops[0].placement 'GPU' is not one of TPU, CPU"),
    ({"ops": [op_with(index="3")]}, "ops[0].index is a string, expected an integer"),
    ({"ops": [op_with(output_tensors="t0")]}, "ops[0].output_tensors is a string, expected a list"),
    ({"ops": [op_with(input_tensors={})]}, "ops[0].input_tensors is an object, expected a list"),
    ({"ops": [op_with(output_tensors=[{"shape": ["?"]}])]}, "ops[0].output_tensors[0].shape is"),
    ({"ops": [7]}, "ops[0] is a number, expected an object"),
    ({"table": {"ADD": 1}}, "table is an object, expected a list"),
    ({"summary": {"ops_total": "12"}}, "summary.ops_total is a string, expected an integer"),
    ({"summary": {"verdict": "great"}}, "summary.verdict 'great' is not one of full, partial"),
    ({"model": ["m.tflite"]}, "model is a list, expected an object"),
    ({"errors": {"e": 1}}, "errors is an object, expected a list"),
    ({"options": [1]}, "options is a list, expected an object"),
    ({"subgraphs": {"main": 0}}, "subgraphs is an object, expected a list"),
    ({"source": 5}, "source is a number, expected a string"),
    ({"source": "guess"}, "source 'guess' is not one of measured, predicted, compiler, log"),
]


@pytest.mark.parametrize("junk,expected", ANALYSIS_JUNK)
def test_wrong_analysis_fields_are_named(tmp_path, junk, expected):
    analysis = sample.write(tmp_path, "a.json", {**sample.chain_analysis("a.tflite", 3), **junk})
    loaded = load_results(None, [analysis])
    assert len(loaded.analyses) == 1
    assert [p for p in loaded.problems if expected in p and p.startswith(f"{analysis}: ignored ")]


def test_many_wrong_fields_make_one_line_and_the_site_still_builds(tmp_path):
    results = tmp_path / "results"
    one_record(results, **{key: value for key, value, _ in RECORD_JUNK[::3]})
    site = build_site(results, tmp_path / "site", plotly_js="")
    line = next(p for p in site.problems if p.startswith("e/v.json"))
    assert line.count("; ") == 4 and line.endswith("(+1 more)")
    assert "e/v.json: ignored" in (site.out / "index.html").read_text()


def test_models_outside_the_results_and_cache_trees_are_not_published(tmp_path):
    secret = tmp_path / "elsewhere" / "secret.tflite"
    secret.parent.mkdir()
    secret.write_bytes(b"a model of the machine that builds the site")
    cached = tmp_path / ".cache/tpulens/steps/convert-1/model.tflite"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"a model the run cached")
    results = tmp_path / "results"
    (results / "analysis").mkdir(parents=True)
    (results / "analysis" / "link.tflite").symlink_to(secret)
    paths = {
        "absolute": str(secret),
        "dotdot": "../elsewhere/secret.tflite",
        "link": "analysis/link.tflite",
        "cache": "../.cache/tpulens/steps/convert-1/model.tflite",
    }
    for name, path in paths.items():
        analysis = sample.chain_analysis(f"{name}.tflite", 3)
        analysis["model"]["path"] = path
        sample.write(results, f"analysis/{name}.json", analysis)
        sample.write(results, f"e/{name}.json", sample.record("e", name, {"accuracy": 0.5},
                                                              analysis=f"analysis/{name}.json"))
    sample.write(results, "e/sneaky.json", sample.record("e", "sneaky", {"accuracy": 0.5},
                                                         analysis=str(tmp_path / "x.json")))
    site = build_site(results, tmp_path / "site", plotly_js="")
    published = {p.name: p.read_bytes() for p in (site.out / "models").glob("*.tflite")}
    assert published == {"cache.tflite": cached.read_bytes()}
    refused = [p for p in site.problems if "not published: " in p]
    assert sorted(p.split(":")[0] for p in refused) == [
        "analysis/absolute.json", "analysis/dotdot.json", "analysis/link.json"]
    assert "analysis/link.tflite is a symbolic link, not followed" in " ".join(refused)
    assert any(p.startswith("e/sneaky.json: analysis") and "not read: outside" in p
               for p in site.problems)


def test_records_with_10000_metrics_build_in_seconds(tmp_path):
    results = tmp_path / "results"
    for v in range(3):
        metrics = {f"m{i:05d}_bytes": float(i * (v + 1)) for i in range(10_000)}
        metrics["size_bytes"] = 100 - v
        sample.write(results, f"e/v{v}.json", sample.record("e", f"v{v}", metrics))
    start = time.perf_counter()
    site = build_site(results, tmp_path / "site", plotly_js="")
    seconds = time.perf_counter() - start
    assert not site.problems
    # A pandas lookup per metric took 44 to 60 s here (88 s for 20,000); now about 4 s.
    assert seconds < 30, seconds
    assert "v2: 98 B" in (site.out / "index.html").read_text()  # the smallest, found


def test_analysis_only_site_outside_any_repository(tmp_path, monkeypatch, corpus, capsys):
    """The README recipe: analyze --json, then report --analysis, in an empty folder."""
    model = corpus / "pairs/edgetpu/deeplabv3_mnv2_pascal_quant.tflite"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.tflite").write_bytes(model.read_bytes())
    assert tpulens_main(["analyze", "m.tflite", "--json"]) == 0
    Path("m.json").write_text(capsys.readouterr().out)
    assert tpulens_main(["report", "--analysis", "m.json"]) == 0
    assert "5 pages written to site/" in capsys.readouterr().out
    overview = Path("site/index.html").read_text()
    assert "<h1>Model diagnostics</h1>" in overview and 'href="models/m.html"' in overview
    assert Path("site/models/m.tflite").read_bytes() == model.read_bytes()
    assert tpulens_main(["report", "--out", "site"]) == 2  # no --analysis: results/ is needed
    assert "results: results directory not found" in capsys.readouterr().err


def test_serve_answers_a_nul_byte_with_400(tmp_path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    site = build_site(results, tmp_path / "site", plotly_js="").out
    server = make_server(site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for path in ("/index.html%00", "/index.html\x00", "/%00/../index.html"):
            with socket.create_connection(server.server_address[:2], timeout=10) as conn:
                conn.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
                reply = conn.makefile("rb").readline()
            assert reply.startswith(b"HTTP/1.0 400 "), (path, reply)
    finally:
        server.shutdown()
        server.server_close()
    assert "Traceback" not in capsys.readouterr().err


def test_other_artifacts_beside_the_analyses_are_skipped_quietly(tmp_path):
    """The quiet scan of results/analysis/ skips other artifacts but reads each file once."""
    results = tmp_path / "results"
    sample.write(results, "analysis/a.json", sample.chain_analysis("a.tflite", 3))
    sample.write(results, "analysis/a.comparison.json", {"schema_version": 1, "agree": True})
    one_record(results, artifacts={"analysis": "analysis/a.json"})
    loaded = load_results(results)
    assert [a.slug for a in loaded.analyses] == ["a"] and not loaded.problems
    assert json.loads(loaded.analyses[0].raw)["model"]["name"] == "a.tflite"


@pytest.mark.parametrize("flag", ["--json", "--json-array"])
def test_a_batch_analysis_makes_one_page_per_model(tmp_path, monkeypatch, corpus, capsys, flag):
    """`analyze <dir> --json` writes JSON Lines, --json-array an array: both publish."""
    names = ["mobilenet_v1_0.25_128_quant", "mobilenet_v1_0.25_128_quant_edgetpu"]
    monkeypatch.chdir(tmp_path)
    Path("models").mkdir()
    for name in names:
        model = corpus / f"pairs/edgetpu/{name}.tflite"
        Path(f"models/{name}.tflite").write_bytes(model.read_bytes())
    assert tpulens_main(["analyze", "models", flag]) == 0
    Path("a.json").write_text(capsys.readouterr().out)
    assert tpulens_main(["report", "--analysis", "a.json"]) == 0
    assert not capsys.readouterr().err
    assert sorted(p.name for p in Path("site/models").glob("*.html")) == [
        "index.html", *(f"{name}.html" for name in names)]
    for name in names:  # each model published beside its page, as from a one-model JSON
        assert Path(f"site/models/{name}.tflite").read_bytes() == \
            Path(f"models/{name}.tflite").read_bytes()


def test_report_refuses_when_no_analysis_input_is_usable(tmp_path, capsys):
    (tmp_path / "lines.jsonl").write_text('{"summary": {}, "ops": []}\n{"summary": \n')
    (tmp_path / "array.json").write_text("[1]")
    (tmp_path / "other.json").write_text('{"agree": true}')
    inputs = [str(tmp_path / n) for n in ("lines.jsonl", "array.json", "other.json")]
    assert tpulens_main(["report", "--out", str(tmp_path / "site"), "--analysis", *inputs]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and not (tmp_path / "site").exists()
    assert f"{inputs[0]}: line 2: unreadable (JSONDecodeError" in err
    assert f"{inputs[1]}: item 0 of the array: not a JSON object" in err
    assert f"{inputs[2]}: not an analysis JSON (no summary/ops)" in err


def test_too_many_documents_in_one_file_are_refused(tmp_path):
    lines = tmp_path / "many.jsonl"
    lines.write_text("{}\n" * (files.MAX_DOCUMENTS + 1))
    with pytest.raises(files.Unusable, match="more than 1,000 JSON documents"):
        files.read_json_documents(lines, files.MAX_ANALYSIS_BYTES)
    deep = tmp_path / "deep.jsonl"
    deep.write_text("{}\n" + '{"a": ' + "[" * 100 + "]" * 100 + "}\n")
    with pytest.raises(files.Unusable, match="line 2: JSON nested deeper than 64 levels"):
        files.read_json_documents(deep, files.MAX_ANALYSIS_BYTES)
