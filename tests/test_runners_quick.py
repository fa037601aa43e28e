"""The repository's benchmarks.toml, quick profile, end to end on Fashion-MNIST: every variant
gets a record, and the numbers behave as the studies say they should (the detection experiment
of the same run: tests/test_detection_pipeline.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REQUIRED = ("accuracy", "latency_ms_p50", "size_bytes", "gzip_bytes", "edgetpu_ops_tpu",
            "edgetpu_ops_cpu")
pytestmark = pytest.mark.slow


def metrics(records, experiment, variant) -> dict:
    return records[experiment, variant]["metrics"]


def test_every_variant_has_a_complete_record(quick_suite):
    root, _, summary, records = quick_suite
    assert not summary.failed
    assert len(records) == summary.variants
    assert {e for e, _ in records} == {"quantization", "collaborative", "distillation",
                                       "scaling", "detection"}
    for (experiment, variant), record in records.items():
        assert record["status"] == "ok", (experiment, variant, record["notes"])
        if experiment == "detection":
            continue  # its metrics: tests/test_detection_pipeline.py
        for name in REQUIRED:
            assert isinstance(record["metrics"][name], (int, float)), (experiment, variant, name)
        assert (root / "results" / record["artifacts"]["analysis"]).is_file()


def test_quantization_sizes_accuracy_and_objective(quick_suite):
    _, _, _, records = quick_suite
    float32 = metrics(records, "quantization", "float32")
    assert float32["accuracy"] > 0.5 and float32["objective"] == 0.0
    for variant in ("int8_float_io", "int8_uint8_io", "int8_int8_io"):
        int8 = metrics(records, "quantization", variant)
        assert float32["size_bytes"] / int8["size_bytes"] > 3.0, variant  # about 4×
        assert abs(int8["accuracy"] - float32["accuracy"]) < 0.1
        assert int8["edgetpu_ops_tpu"] > 0
    assert metrics(records, "quantization", "int8_uint8_io")["edgetpu_ops_cpu"] == 0
    assert float32["edgetpu_ops_tpu"] == 0  # float ops never map
    half = metrics(records, "quantization", "float16")["size_bytes"] / float32["size_bytes"]
    assert 0.4 < half < 0.6
    dynamic = metrics(records, "quantization", "dynamic_range")
    assert dynamic["size_bytes"] < float32["size_bytes"] / 3.0
    size_term = dynamic["size_bytes"] / float32["size_bytes"] - 1
    latency_term = dynamic["latency_ms_p50"] / float32["latency_ms_p50"] - 1
    accuracy_term = dynamic["accuracy"] / float32["accuracy"] - 1
    assert dynamic["objective"] == pytest.approx(size_term + latency_term - accuracy_term,
                                                 abs=1e-3)


def test_collaborative_optimization_keeps_what_it_promises(quick_suite):
    _, _, _, records = quick_suite
    baseline = metrics(records, "collaborative", "baseline")
    pruned = metrics(records, "collaborative", "pruned")
    clustered = metrics(records, "collaborative", "clustered")
    pcqat = metrics(records, "collaborative", "pcqat")
    assert pruned["sparsity"] > 0.4 > baseline["sparsity"]
    assert pruned["gzip_bytes"] < baseline["gzip_bytes"]
    assert clustered["unique_weights_per_channel_max"] <= 16
    assert baseline["unique_weights_per_channel_max"] > 16
    assert clustered["gzip_bytes"] < baseline["gzip_bytes"]
    # PCQAT keeps both the sparsity and the clusters through quantization-aware training
    assert pcqat["sparsity"] > 0.4 and pcqat["unique_weights_per_channel_max"] <= 16
    assert 0.0 < pcqat["accuracy_keras"] <= 1.0
    for record in (baseline, pruned, pcqat):
        assert 0 < record["compression_pct"] < 100


def test_distillation_and_scaling_records(quick_suite):
    _, _, _, records = quick_suite
    teacher = metrics(records, "distillation", "teacher")
    student = metrics(records, "distillation", "student_distilled")
    assert teacher["params"] > 5 * student["params"]
    assert records["distillation", "student_distilled"]["params"]["teacher"] == "teacher"
    base = metrics(records, "scaling", "base_phi0")
    lite = metrics(records, "scaling", "lite_phi0")
    assert lite["edgetpu_ops_cpu"] == 0
    # squeeze-excite and swish add ops that the lite variant does without
    assert base["edgetpu_ops_tpu"] + base["edgetpu_ops_cpu"] > lite["edgetpu_ops_tpu"]
    assert base["macs"] > 0 and lite["macs"] > 0


def test_second_run_reruns_nothing_quickly_without_tensorflow(quick_suite):
    _, suite, _, _ = quick_suite
    code = ("import sys; from tpulens.runners import pipeline; "
            f"s = pipeline.run_suite({str(suite)!r}, 'quick', jobs=2, progress=False); "
            "print(s.up_to_date, s.variants, s.steps_run, s.seconds, "
            "'tensorflow' in sys.modules)")
    up_to_date, variants, steps_run, seconds, tf_loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=REPO).stdout.split()
    assert up_to_date == variants and steps_run == "0" and tf_loaded == "False"
    assert float(seconds) < 15
