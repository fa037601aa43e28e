"""The compile stage records what a model costs on the Edge TPU: the predicted latency per host
link with its range, the parameter split and the cycles, from the analysis' `summary.estimate`;
from the compiled model's estimate (the compiler's own split and cycles) when there is one."""

from __future__ import annotations

from tpulens.analyzer import analyze_file
from tpulens.analyzer.analyze import make_options
from tpulens.analyzer.batch import analyze_loaded
from tpulens.analyzer.model import read_model
from tpulens.metrics import LINKS, bound_keys, est_latency_key
from tpulens.runners.stages import Context
from tpulens.runners.stages import compile as compile_stage

PAIR = "pairs/test_data@086adea/mobilenet_v1_0.75_192_quant"


def run(tmp_path, cpu, compiled=None):
    outputs = {"tflite": str(cpu)}
    if compiled:
        outputs["compiled_tflite"] = str(compiled)
    return compile_stage.run({"compiler_version": "16.0"}, {"tflite": {"outputs": outputs}},
                             tmp_path, Context(tmp_path, "default", 1))


def expect(estimate: dict) -> dict:
    """The record metrics an estimate must give, read straight from its contract keys."""
    out = {
        "edgetpu_param_on_chip_bytes": estimate["parameters"]["on_chip_bytes"],
        "edgetpu_param_off_chip_bytes": estimate["parameters"]["off_chip_bytes"],
    }
    if estimate["cycles"]:
        out["edgetpu_cycles"] = estimate["cycles"]
    for link in LINKS:
        key = est_latency_key(link)
        out[key] = estimate["latency_ms"][link]
        out.update(zip(bound_keys(key), estimate["latency_range_ms"][link], strict=True))
    return out


def recorded(result) -> dict:
    return {k: v for k, v in result.metrics.items()
            if k.startswith(("edgetpu_est", "edgetpu_param", "edgetpu_cycles"))}


def test_a_model_without_an_edge_tpu_op_has_no_edge_tpu_cost():
    assert compile_stage.estimate_metrics(None) == ({}, {})


def test_a_missing_figure_is_left_out_not_recorded_as_zero():
    estimate = {
        "parameters": {"on_chip_bytes": 10, "off_chip_bytes": 0},
        "cycles": None,  # compiler 16.0 writes no cycles
        "latency_ms": {"usb3": 1.5, "usb2": None, "pcie": 1.0},
        "latency_range_ms": {"usb3": [1.2, 1.8], "usb2": [None, None], "pcie": [0.8, 1.2]},
        "source": "compiler",
    }
    metrics, info = compile_stage.estimate_metrics(estimate)
    assert "edgetpu_cycles" not in metrics
    assert est_latency_key("usb2") not in metrics
    assert metrics[bound_keys(est_latency_key("usb3"))[1]] == 1.8
    # the compiler's figures are the compiler's; the latency is always a prediction
    assert info["edgetpu_param_off_chip_bytes"] == {"source": "compiler"}
    assert "source" not in info[est_latency_key("usb3")]
    assert info[est_latency_key("usb3")]["description"].endswith(
        "; from the compiler's own parameter split and cycles")


def test_the_cpu_model_records_its_predicted_cost(corpus, tmp_path):
    cpu = corpus / f"{PAIR}.tflite"
    estimate = analyze_file(cpu, compiler_version="16.0")["summary"]["estimate"]
    assert estimate is not None
    result = run(tmp_path, cpu)
    assert recorded(result) == expect(estimate)
    assert result.metric_info["edgetpu_param_on_chip_bytes"] == {"source": "predicted"}
    assert result.info["estimate_source"] == "predicted"


def test_a_compiled_model_gives_the_compilers_split(corpus, tmp_path):
    cpu, compiled = corpus / f"{PAIR}.tflite", corpus / f"{PAIR}_edgetpu.tflite"
    analysis = analyze_loaded(read_model(compiled), make_options("16.0"))
    estimate = analysis["summary"]["estimate"]
    assert estimate is not None
    result = run(tmp_path, cpu, compiled)
    assert recorded(result) == expect(estimate)
    assert result.metric_info["edgetpu_param_on_chip_bytes"] == {"source": "compiler"}
    assert result.info["estimate_source"] == "compiler"


def test_a_model_compiled_without_cycles_keeps_the_predicted_latency(corpus, tmp_path):
    """Compiler 16.0 writes no cycles: the compiler's parameter split is recorded, and the
    latency and cycles of the prediction stand in for the ones it cannot give, labelled so."""
    pair = "pairs/edgetpu-tcn/quantized_model"
    cpu, compiled = corpus / f"{pair}.tflite", corpus / f"{pair}_edgetpu.tflite"
    from_compiler = analyze_loaded(read_model(compiled), make_options("16.0"))["summary"]
    assert from_compiler["estimate"]["cycles"] is None  # what 16.0 gives: nothing to price
    predicted = analyze_file(cpu, compiler_version="16.0")["summary"]["estimate"]
    result = run(tmp_path, cpu, compiled)
    metrics = recorded(result)
    parameters = from_compiler["estimate"]["parameters"]
    assert metrics["edgetpu_param_on_chip_bytes"] == parameters["on_chip_bytes"]
    assert result.metric_info["edgetpu_param_on_chip_bytes"] == {"source": "compiler"}
    assert metrics["edgetpu_cycles"] == predicted["cycles"] > 0
    assert result.metric_info["edgetpu_cycles"] == {"source": "predicted"}
    for link in LINKS:
        assert metrics[est_latency_key(link)] == predicted["latency_ms"][link]
        assert "description" not in result.metric_info.get(est_latency_key(link), {})
