"""What a diagnostics page says (report/diagnostics.py, templates/model.html): tensor names in
the op table, the analyzer's confidence, what-if and dropped ops read when present and not
missed when absent, float models folded, the model file published under its size cap, and
`tpulens serve` readable from netron.app."""

from __future__ import annotations

import copy
import html
import json
import re
import shutil
import threading
import urllib.request

import pytest
import sample_results as sample

from tpulens.analyzer.analyze import analyze_file
from tpulens.cli import main as tpulens_main
from tpulens.report.cli_serve import make_server
from tpulens.report.diagnostics import node_data, short_name
from tpulens.report.files import ModelFiles
from tpulens.report.load import normalize_analysis
from tpulens.report.site import build_site
from tpulens.report.what_if import INT8_LABEL

DEEPLAB = "pairs/edgetpu/deeplabv3_mnv2_pascal_quant.tflite"
FLOAT_MODEL = "pairs/MyYolov5@0667147/yolov5n-fp16.tflite"
CACHE = ".cache/tpulens/steps/convert-0"


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def op_rows(page: str) -> dict[str, str]:
    """Row id → the row's HTML, for every op row."""
    return dict(re.findall(r'<tr id="(op-\d+-\d+)"(.*?)</tr>', page, re.S))


def site_of(tmp_path, corpus, models: dict[str, str], policy=None, edit=None):
    """A site of real corpus models, each cached as `tpulens run` keeps it and named by one
    record, so the model file may be published."""
    results = tmp_path / "results"
    for name, rel in models.items():
        cached = tmp_path / CACHE / f"{name}.tflite"
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus / rel, cached)
        analysis = analyze_file(corpus / rel)
        analysis["model"]["path"] = f"../{CACHE}/{name}.tflite"
        if edit:
            edit(name, analysis)
        sample.write(results, f"analysis/{name}.json", analysis)
        record = sample.record("models", name, {"size_bytes": 1}, analysis=f"analysis/{name}.json")
        sample.write(results, f"models/{name}.json", record)
    return build_site(results, tmp_path / "site", model_files=policy or ModelFiles()).out


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("aspp0/Relu", "aspp0/Relu"),
        ("MobilenetV2/expanded_conv_10/project/add_fold", "…/expanded_conv_10/project/add_fold"),
        ("model/block_2/conv;model/block_2/bias", "model/block_2/conv;…"),
        ("a_single_part_longer_than_the_limit_" * 2, "a_single_part_longer_than_the_limit_" * 2),
        ("x/" + "y" * 40, "…/" + "y" * 40),
        ("a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t", "…/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t"),
    ],
)
def test_short_names_keep_whole_parts(name, shown):
    assert short_name(name) == shown
    kept = shown.removeprefix("…/").removesuffix(";…")
    assert name.split(";")[0].endswith(kept)  # a suffix of whole parts, never cut inside one


def test_an_absurdly_long_name_is_cut_after_all():
    assert short_name("n" * 5000) == "n" * 80 + "…"
    assert short_name("a/" + "n" * 5000) == "…/" + "n" * 78 + "…"


def test_the_op_table_shows_tensor_names_and_searches_by_them(tmp_path, corpus):
    site = site_of(tmp_path, corpus, {"deeplab": DEEPLAB})
    page = (site / "models/deeplab.html").read_text()
    data = normalize_analysis(analyze_file(corpus / DEEPLAB))
    rows = op_rows(page)
    assert len(rows) == len(data["ops"])
    for op in data["ops"]:
        row = rows[f"op-{op['subgraph']}-{op['index']}"]
        search = " ".join(html.unescape(t) for t in re.findall(r'title="([^"]*)"', row))
        cells = text_of(row)
        for tensor in op["input_tensors"] + op["output_tensors"]:
            assert tensor["name"] in search  # the full name is searchable, in the tooltip
            assert short_name(tensor["name"]) in cells  # and a readable part of it shown
        assert op["reason_code"] in search
    assert "aspp0/Relu INT8" in text_of(page) or "aspp0/Relu UINT8" in text_of(page)


def test_confidence_what_if_and_dropped_ops_are_read_and_optional():
    ops = [
        sample.op(0, "CONV_2D", "TPU", sample.MAPPED),
        sample.op(1, "SOFTMAX", "CPU", sample.UNSUPPORTED, "UNSUPPORTED_OP"),
        sample.op(2, "SHAPE", "dropped", "", "DROPPED"),
    ]
    ops[1] |= {"confidence": "low", "confidence_reason": "near an empirical size limit"}
    ops[0]["confidence"] = "high"
    raw = sample.analysis("m.tflite", ops)
    raw["summary"] |= {"ops_dropped": 1, "ops_low_confidence": 1, "ops_cpu": 1}
    raw["summary"]["what_if"] = [{"label": "with -a", "flags": ["-a"], "ops_tpu": 2, "ops_cpu": 0}]
    data = normalize_analysis(raw)
    assert [op["placement"] for op in data["ops"]] == ["TPU", "CPU", "dropped"]
    assert [op["confidence"] for op in data["ops"]] == ["high", "low", ""]
    assert data["ops"][1]["confidence_reason"] == "near an empirical size limit"
    assert data["summary"]["what_if"] == raw["summary"]["what_if"]
    assert data["summary"]["ops_dropped"] == data["summary"]["ops_low_confidence"] == 1
    exported = node_data(data)["graphsData"]["main"]["results"]
    assert set(exported) == {"t0", "t1"}  # a dropped op is not coloured as CPU or TPU

    older = copy.deepcopy(raw)  # as written before these fields existed
    for op in older["ops"]:
        op.pop("confidence", None), op.pop("confidence_reason", None)
    for key in ("what_if", "ops_dropped", "ops_low_confidence"):
        del older["summary"][key]
    data = normalize_analysis(older)
    assert all(op["confidence"] == "" and op["confidence_reason"] == "" for op in data["ops"])
    assert not {"what_if", "ops_dropped", "ops_low_confidence"} & set(data["summary"])


def test_a_page_with_dropped_and_low_confidence_ops_says_so(tmp_path):
    ops = [
        sample.op(0, "CONV_2D", "TPU", sample.MAPPED),
        sample.op(1, "SOFTMAX", "CPU", sample.UNSUPPORTED, "UNSUPPORTED_OP"),
        sample.op(2, "SHAPE", "dropped", "", "DROPPED"),
    ]
    ops[1] |= {"confidence": "low", "confidence_reason": "near an empirical size limit"}
    raw = sample.analysis("m.tflite", ops)
    raw["summary"] |= {"ops_dropped": 1, "ops_low_confidence": 1, "ops_cpu": 1}
    sample.write(tmp_path, "m.json", raw)
    page = (build_site(None, tmp_path / "site", [tmp_path / "m.json"]).out / "models/m.html")
    text = text_of(page.read_text())
    assert re.search(r"Ops dropped\s*1", text) and re.search(r"Low-confidence verdicts\s*1", text)
    rows = op_rows(page.read_text())
    assert 'class="place-dropped"' in rows["op-0-2"]
    assert "(low confidence)" in text_of(rows["op-0-1"])
    assert "near an empirical size limit" in html.unescape(rows["op-0-1"])
    reasons = text[text.index("Why ops leave") : text.index("Ops\n")]
    assert "SOFTMAX" in reasons and "SHAPE" not in reasons  # dropped ops do not leave the TPU


def test_a_float_model_is_folded_and_says_its_int8_outcome(tmp_path, corpus):
    outcome = {"label": INT8_LABEL, "flags": [], "ops_tpu": 250, "ops_cpu": 5,
               "ops_low_confidence": 3, "blocking": ["RESHAPE"]}

    def add_what_if(name, analysis):
        analysis["summary"]["what_if"] = [outcome]

    site = site_of(tmp_path, corpus, {"yolo": FLOAT_MODEL}, edit=add_what_if)
    page = (site / "models/yolo.html").read_text()
    data = normalize_analysis(analyze_file(corpus / FLOAT_MODEL))
    groups = re.findall(r'<tbody class="row-group" id="ops-yolo-g\d+">', page)
    kinds = {(op["opcode"], op["status"]) for op in data["ops"]}
    assert len(groups) == len(kinds) < len(data["ops"]) // 10
    rows = op_rows(page)
    assert len(rows) == len(data["ops"]) and all(" hidden>" in row for row in rows.values())
    text = text_of(page)
    assert (
        "If fully int8-quantized: 250 of 255 ops on the Edge TPU (250 more than now), predicted, "
        "3 verdicts with low confidence; still on the CPU: RESHAPE." in text
    )
    assert "Why ops leave the Edge TPU" not in text  # the folded rows say it once per kind


def test_the_model_is_published_under_its_cap_with_netron_only_then(tmp_path, corpus):
    site = site_of(tmp_path / "a", corpus, {"deeplab": DEEPLAB})
    page = (site / "models/deeplab.html").read_text()
    assert (site / "models/deeplab.tflite").read_bytes() == (corpus / DEEPLAB).read_bytes()
    assert 'href="deeplab.tflite" download' in page
    assert 'class="netron"' in page and 'data-model="deeplab.tflite"' in page

    size = (corpus / DEEPLAB).stat().st_size
    small = ModelFiles(max_bytes=size - 1)
    site = site_of(tmp_path / "b", corpus, {"deeplab": DEEPLAB}, small)
    page = (site / "models/deeplab.html").read_text()
    assert not (site / "models/deeplab.tflite").exists()
    assert 'class="netron"' not in page and ".tflite\" download" not in page
    assert f"its file ({size / 1e6:.1f} MB) is over the" in text_of(page)

    site = site_of(tmp_path / "c", corpus, {"deeplab": DEEPLAB}, ModelFiles(publish=False))
    assert not list(site.rglob("*.tflite"))
    assert "(--no-models)" in text_of((site / "models/deeplab.html").read_text())


def test_cli_model_options(tmp_path, corpus, capsys):
    model = tmp_path / "m.tflite"
    shutil.copyfile(corpus / DEEPLAB, model)
    analysis = analyze_file(model)
    analysis["model"]["path"] = "m.tflite"
    sample.write(tmp_path, "m.json", analysis)
    common = ["report", "--analysis", str(tmp_path / "m.json")]
    assert tpulens_main([*common, "--out", str(tmp_path / "s1"), "--max-model-mb", "0.1"]) == 0
    assert not (tmp_path / "s1/models/m.tflite").exists()
    assert tpulens_main([*common, "--out", str(tmp_path / "s2"), "--max-model-mb", "5"]) == 0
    assert (tmp_path / "s2/models/m.tflite").is_file()
    assert tpulens_main([*common, "--out", str(tmp_path / "s3"), "--no-models"]) == 0
    assert not (tmp_path / "s3/models/m.tflite").exists()
    assert tpulens_main([*common, "--out", str(tmp_path / "s4"), "--max-model-mb", "-1"]) == 2
    assert "--max-model-mb -1: must be 0 or more" in capsys.readouterr().err


def test_serve_keeps_analyses_same_origin(tmp_path):
    """Only model files are shared with other origins (netron.app fetches a .tflite by URL:
    tests/test_redteam_round3.py); an analysis JSON is served to the site alone."""
    sample.write(tmp_path, "m.json", sample.chain_analysis("m.tflite", 3))
    site = build_site(None, tmp_path / "site", [tmp_path / "m.json"]).out
    server = make_server(site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/models/m.analysis.json"
        with urllib.request.urlopen(url, timeout=10) as reply:
            assert reply.headers["Access-Control-Allow-Origin"] is None
            assert json.loads(reply.read())["model"]["name"] == "m.tflite"
    finally:
        server.shutdown()
        server.server_close()
