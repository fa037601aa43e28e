"""Result records (`results/<experiment>/<variant>.json`) assembled from step manifests.

The objective score of the quantization study (STUDIES.md §5) is the sum of the relative
changes against the float baseline, to be minimised:

    objective = Δsize/size₀ + Δlatency/latency₀ − Δaccuracy/accuracy₀

Size and latency count as they are (smaller is better). Accuracy enters with a minus sign so that
an accuracy *loss* raises the score: that is the table's meaning (lower = better trade-off).
Their printed rows for float16 (−0.50), int8 (19.31) and int8 with integer input (19.44)
reproduce exactly with this formula; their dynamic-range row (0.21) is what one gets by adding
the accuracy change with a plus sign, which would reward losing accuracy, so we do not.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tpulens.runners.cache import atomic_write_bytes, atomic_write_json

SCHEMA_VERSION = 1

METRIC_INFO = {
    "accuracy": ("fraction", "higher", "measured"),
    "accuracy_train": ("fraction", "higher", "measured"),
    "accuracy_keras": ("fraction", "higher", "measured"),
    "latency_ms_p50": ("ms", "lower", "measured"),
    "latency_ms_p90": ("ms", "lower", "measured"),
    "latency_ms_p99": ("ms", "lower", "measured"),
    "latency_ms_mean": ("ms", "lower", "measured"),
    "edgetpu_latency_ms_p50": ("ms", "lower", "measured"),
    "edgetpu_latency_ms_p90": ("ms", "lower", "measured"),
    "edgetpu_latency_ms_p99": ("ms", "lower", "measured"),
    "edgetpu_latency_ms_mean": ("ms", "lower", "measured"),
    "size_bytes": ("bytes", "lower", "measured"),
    "gzip_bytes": ("bytes", "lower", "measured"),
    "compression_pct": ("%", "higher", "measured"),
    "sparsity": ("fraction", "none", "measured"),
    "unique_weights_per_channel_max": ("values", "none", "measured"),
    "unique_weights_per_channel_mean": ("values", "none", "measured"),
    "params": ("parameters", "lower", "measured"),
    "macs": ("MACs", "lower", "measured"),
    "objective": ("score", "lower", "measured"),
    "edgetpu_ops_tpu": ("ops", "higher", "predicted"),
    "edgetpu_ops_cpu": ("ops", "lower", "predicted"),
    "edgetpu_tpu_subgraphs": ("subgraphs", "none", "predicted"),
    "edgetpu_ops_tpu_compiler": ("ops", "higher", "compiler"),
    "edgetpu_ops_cpu_compiler": ("ops", "lower", "compiler"),
    "edgetpu_prediction_disagreements": ("ops", "lower", "compiler"),
}
DESCRIPTIONS = {
    "accuracy": "top-1 on the test split (LiteRT)",
    "accuracy_train": "top-1 on a train subset (LiteRT)",
    "accuracy_keras": "top-1 of the Keras model on the test split (fake-quant for QAT)",
    "objective": "Δsize/size₀ + Δlatency/latency₀ − Δacc/acc₀ against the baseline",
    "compression_pct": "100 × (1 − gzip/size)",
    "macs": "multiply-accumulates per image (conv, depthwise, dense)",
}
STAGE_TIMING = {"train": "train", "optimize": "train", "convert": "compress",
                "extract": "extract", "fetch": "fetch", "compile": "compile",
                "evaluate": "evaluate", "detection_dataset": "dataset",
                "detection_train": "train", "detection_export": "compress",
                "detection_evaluate": "evaluate"}


def objective(metrics: dict, baseline: dict) -> float | None:
    """The study's score; None when a needed number is missing or zero in the baseline."""
    pairs = [("size_bytes", 1.0), ("latency_ms_p50", 1.0), ("accuracy", -1.0)]
    total = 0.0
    for name, sign in pairs:
        if metrics.get(name) is None or not baseline.get(name):
            return None
        total += sign * (metrics[name] - baseline[name]) / baseline[name]
    return round(total, 4)


def metric_info(metrics: dict, overrides: dict) -> dict:
    out = {}
    for name in metrics:
        unit, better, source = METRIC_INFO.get(name, ("", "none", "measured"))
        info = {"unit": unit, "better": better, "source": source}
        if name in DESCRIPTIONS:
            info["description"] = DESCRIPTIONS[name]
        info.update(overrides.get(name, {}))
        out[name] = info
    return out


def assemble(variant, steps: dict, failures: dict, baseline_metrics: dict | None,
             results_dir: Path, git_commit: str | None, fallback_environment: dict,
             profile: str) -> dict:
    """One record from the variant's step manifests (`steps`: role → manifest) and failures
    (`failures`: role → (status, note))."""
    metrics, overrides, notes, timings, artifacts = {}, {}, [], {}, {}
    environment = fallback_environment
    for manifest in steps.values():
        metrics.update(manifest["metrics"])
        overrides.update(manifest.get("metric_info", {}))
        notes.extend(manifest.get("notes", []))
        stage = STAGE_TIMING[manifest["stage"]]
        timings[stage] = round(timings.get(stage, 0.0) + manifest["seconds"], 3)
        if manifest.get("info", {}).get("environment"):
            environment = manifest["info"]["environment"]
    convert = steps.get("convert")
    if convert and convert["outputs"].get("tflite"):
        artifacts["tflite"] = _relative(Path(convert["outputs"]["tflite"]), results_dir)
    compile_step = steps.get("compile")
    if compile_step and compile_step["outputs"].get("analysis"):
        name = f"{variant.experiment}-{variant.variant}.json"
        dest = results_dir / "analysis" / name
        if compile_step["outputs"].get("compiled_tflite"):
            artifacts["compiled_tflite"] = _relative(
                Path(compile_step["outputs"]["compiled_tflite"]), results_dir)
        paths = {"model": artifacts.get("tflite"), "cpu_model": artifacts.get("tflite"),
                 "compiled_model": artifacts.get("compiled_tflite")}
        _copy_json(Path(compile_step["outputs"]["analysis"]), dest, paths)
        artifacts["analysis"] = f"analysis/{name}"
        for extra in ("comparison", "compiled_analysis", "compiler_log"):
            if compile_step["outputs"].get(extra):
                src = Path(compile_step["outputs"][extra])
                dest = results_dir / "analysis" / f"{variant.experiment}-{variant.variant}" \
                    f".{extra}{src.suffix}"
                if src.suffix == ".json":
                    _copy_json(src, dest, paths)
                else:
                    atomic_write_bytes(dest, src.read_bytes())
                artifacts[extra] = f"analysis/{dest.name}"
    evaluate = steps.get("evaluate")
    if evaluate and evaluate["outputs"].get("examples"):
        artifacts["examples"] = _copy_examples(Path(evaluate["outputs"]["examples"]),
                                               results_dir, variant)
    if baseline_metrics is not None:
        score = objective(metrics, baseline_metrics)
        if score is not None:
            metrics["objective"] = score
    status = "ok"
    for role, (state, note) in failures.items():
        status = "failed" if state == "failed" or status == "failed" else state
        notes.append(f"{role}: {note}")
    return {
        "schema_version": SCHEMA_VERSION,
        "experiment": variant.experiment, "variant": variant.variant,
        "kind": variant.kind, "profile": profile, "status": status,
        "record_key": variant.record_key,
        "params": variant.params, "metrics": metrics,
        "metric_info": metric_info(metrics, overrides),
        "artifacts": artifacts, "timings": timings, "environment": environment,
        "git_commit": git_commit,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "notes": notes,
    }


def record_path(results_dir: Path, experiment: str, variant: str) -> Path:
    return results_dir / experiment / f"{variant}.json"


def read_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_record(results_dir: Path, record: dict) -> Path:
    path = record_path(results_dir, record["experiment"], record["variant"])
    atomic_write_json(path, record)
    return path


def _copy_json(src: Path, dest: Path, paths: dict) -> None:
    """Copy an analysis/comparison JSON into results/, its model paths replaced by the record's
    artifact paths (relative to results/; the cache path where the step ran means nothing
    elsewhere)."""
    data = json.loads(src.read_text())
    if isinstance(data.get("model"), dict) and paths["model"]:
        data["model"]["path"] = paths["model"]
    for key in ("cpu_model", "compiled_model"):
        if isinstance(data.get(key), str) and paths[key]:
            data[key] = paths[key]
    atomic_write_json(dest, data)


def _copy_examples(src: Path, results_dir: Path, variant) -> str:
    """The example images and their boxes (examples.json beside them) into
    results/examples/<experiment>-<variant>/, so the site can be built from results/ alone."""
    folder = f"examples/{variant.experiment}-{variant.variant}"
    data = json.loads(src.read_text())
    for image in data["images"]:
        atomic_write_bytes(results_dir / folder / image["file"],
                           (src.parent / image["file"]).read_bytes())
    atomic_write_json(results_dir / folder / src.name, data)
    return f"{folder}/{src.name}"


def _relative(path: Path, base: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), base.resolve())
