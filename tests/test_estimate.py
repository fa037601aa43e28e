"""The Edge TPU cost estimate end to end: predicted for CPU models, read from compiled ones, in
the analysis JSON and the text report, against the real compiler's figures in the corpus."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tpulens.analyzer import estimate
from tpulens.analyzer.analyze import analyze_model, make_options
from tpulens.analyzer.compiled import analysis as compiled_analysis
from tpulens.analyzer.model import read_model

DEVICES = {"usb3", "usb2", "pcie"}


def tpulens(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tpulens.cli", *args], capture_output=True,
                          text=True, timeout=120)


def _predicted(path) -> dict | None:
    found = estimate.predict(analyze_model(read_model(path), make_options("15.0")))
    return found.to_json() if found else None


def test_a_compiled_model_carries_the_compilers_own_figures(corpus):
    """Coral's MobileNet v1 compiled by 2.1: 3,363,072 parameter bytes cached on-chip, none
    streamed, 685,376 estimated cycles (read from the compiled file's package)."""
    path = corpus / "pairs/edgetpu/mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite"
    found = compiled_analysis(read_model(path))["summary"]["estimate"]
    assert found["source"] == "compiler"
    assert found["parameters"] == {"on_chip_bytes": 3_363_072, "off_chip_bytes": 0}
    assert found["cycles"] == 685_376
    assert set(found["latency_ms"]) == DEVICES
    # 685,376 cycles at 500 MHz is 1.37 ms of Edge TPU time, a part of every device's total.
    for device in DEVICES:
        assert found["parts_ms"][device]["edgetpu"] == pytest.approx(1.371, abs=1e-3)
        low, high = found["latency_range_ms"][device]
        assert low < found["latency_ms"][device] < high


def test_the_prediction_agrees_with_the_compiled_twin(corpus):
    """The same model predicted from its CPU file: the compiler's split within 2 %, its cycles
    within 20 %, and so the latency within 20 % on every device."""
    pair = corpus / "pairs/test_data@086adea"
    for name in ("mobilenet_v2_1.0_224_quant", "deeplabv3_mnv2_pascal_quant"):
        predicted = _predicted(pair / f"{name}.tflite")
        truth = compiled_analysis(read_model(pair / f"{name}_edgetpu.tflite"))["summary"][
            "estimate"]
        assert predicted["source"] == "predicted"
        on_chip = truth["parameters"]["on_chip_bytes"]
        assert abs(predicted["parameters"]["on_chip_bytes"] - on_chip) <= 0.02 * on_chip, name
        assert abs(predicted["cycles"] - truth["cycles"]) <= 0.2 * truth["cycles"], name
        for device in DEVICES:
            assert predicted["latency_ms"][device] == pytest.approx(
                truth["latency_ms"][device], rel=0.2), (name, device)


def test_a_model_with_nothing_on_the_edge_tpu_has_no_estimate(corpus):
    """LeNet in float32 under compiler 15.0: the compiler maps none of its ops."""
    path = corpus / "pairs/LeNet_TFLite@58c09cc/converted_model.tflite"
    assert _predicted(path) is None
    assert estimate.text_lines(None) == [
        "Edge TPU cost: nothing runs on the Edge TPU (no estimate)"]


def test_compiler_16_writes_no_cycles_so_the_latency_is_unknown(corpus):
    path = corpus / "pairs/coral_transfer/mobilenet_v2_1.0_224_quant_edgetpu.tflite"
    found = compiled_analysis(read_model(path))["summary"]["estimate"]
    assert found["cycles"] is None
    assert found["parameters"]["on_chip_bytes"] > 3_000_000
    assert set(found["latency_ms"].values()) == {None}
    lines = estimate.text_lines(found)
    assert lines[1] == "Edge TPU latency: unknown (the compiler wrote no cycle estimate)"


def test_several_edge_tpu_subgraphs_pay_an_invoke_each(corpus):
    """A model compiled with -a into three Edge TPU subgraphs: three invoke overheads."""
    compiled = corpus / "pairs/Coral-TPU@2facb8a/transformer/efficient_l3_edgetpu.tflite"
    found = compiled_analysis(read_model(compiled))["summary"]["estimate"]
    single = compiled_analysis(read_model(
        corpus / "pairs/edgetpu/mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite"
    ))["summary"]["estimate"]
    assert found["parts_ms"]["usb3"]["invoke"] == pytest.approx(
        3 * single["parts_ms"]["usb3"]["invoke"])


def test_streaming_models_name_the_cost_of_streaming():
    """A VGG-sized layout: 5 MiB cached, 127 MiB streamed over USB 3.0 dominates."""
    parts = {"invoke": 0.55, "edgetpu": 30.0, "streamed_parameters": 266.6, "instructions": 0.2,
             "input_output": 0.3, "crossings": 0.0, "cpu_ops": 0.0}
    slow = {**parts, "streamed_parameters": 4000.0 - 31.05}
    total = sum(parts.values())
    found = {
        "parameters": {"on_chip_bytes": 5 * 2**20, "off_chip_bytes": 127 * 2**20},
        "cycles": 15_000_000, "latency_ms": {"usb3": total, "usb2": 4000.0},
        "latency_range_ms": {"usb3": [0.73 * total, 1.32 * total], "usb2": [2920.0, 5280.0]},
        "parts_ms": {"usb3": parts, "usb2": slow}, "source": "predicted"}
    lines = estimate.text_lines(found)
    assert lines[0] == "Parameter memory: 5.00 MiB cached on-chip; 127.00 MiB streamed at every " \
                       "inference"
    assert lines[1] == ("Edge TPU latency (predicted, warm cache): USB 3.0 298 ms "
                        "(217-393), USB 2.0 4000 ms")
    assert lines[2] == "Dominated by parameters streamed over the link: 267 of 298 ms on USB 3.0"
    assert lines[3].startswith("Streams 127.00 MiB per inference over USB 3.0 (267 of 298 ms)")
    usb2 = estimate.text_lines(found, device="usb2")
    assert usb2[1] == ("Edge TPU latency (predicted, warm cache): USB 2.0 4000 ms "
                       "(2920-5280), USB 3.0 298 ms")
    assert usb2[3].startswith("Streams 127.00 MiB per inference over USB 2.0 (3969 of 4000 ms)")


def test_analyze_json_and_text_carry_the_estimate(corpus):
    path = corpus / "pairs/test_data@086adea/mobilenet_v2_1.0_224_quant.tflite"
    data = json.loads(tpulens("analyze", str(path), "--json").stdout)
    found = data["summary"]["estimate"]
    assert set(found) == {"parameters", "cycles", "latency_ms", "latency_range_ms", "parts_ms",
                          "source"}
    text = tpulens("analyze", str(path), "--device", "pcie").stdout
    assert "cached on-chip" in text
    assert "Edge TPU latency (predicted, warm cache): PCIe " in text
