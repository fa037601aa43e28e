"""`compile`: which ops run on the Edge TPU.

With `edgetpu_compiler` on PATH the model is really compiled: its log is kept and parsed with
`analyzer.logs.parse_log`, and the op counts come from the log (source `log`). Without it, the
analyzer predicts the placement (source `predicted`). Either way the analyzer's per-op analysis
JSON is written, and when a compiled `*_edgetpu.tflite` ships next to the model (zoo), the
prediction is compared with the real compiler's output.

It also records what the model costs on the Edge TPU (the analysis' `summary.estimate`):
predicted latency per host link with its range, the parameter bytes cached on-chip and streamed,
and the Edge TPU cycles. When a compiled model exists (compiled here or shipped), its estimate is
used: the parameter split and cycles are then the compiler's own (source `compiler`); the
latency stays a prediction, since the compiler gives no time. Compiler 16.0 writes no cycles:
the predicted cycles and latency then stand in (source `predicted`). A timing measured on the device
(the evaluate step's `edgetpu_latency_ms_*`) is recorded beside it and the site prefers it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tpulens.metrics import LINKS, bound_keys, est_latency_key, meaning
from tpulens.runners.stages import StepResult

COMPILER = "edgetpu_compiler"
COMPILER_TIMEOUT_S = 600


def run(config: dict, inputs: dict, out_dir: Path, ctx) -> StepResult:
    from tpulens.analyzer import analyze_file

    tflite = inputs["tflite"]["outputs"].get("tflite")
    if not tflite:
        return StepResult(notes=["compile skipped: the step produced no .tflite"])
    version = config.get("compiler_version", "16.0")
    analysis = analyze_file(tflite, compiler_version=version)
    result = StepResult()
    summary = analysis["summary"]
    result.metrics = {"edgetpu_ops_tpu": summary["ops_tpu"], "edgetpu_ops_cpu": summary["ops_cpu"],
                      "edgetpu_tpu_subgraphs": summary["tpu_subgraphs"]}
    source = "predicted"
    result.info["verdict"] = summary["verdict"]
    if shutil.which(COMPILER):
        source = _compile_for_real(Path(tflite), out_dir, result)
    _write_json(out_dir / "analysis.json", analysis)
    result.outputs["analysis"] = str(out_dir / "analysis.json")
    shipped = inputs["tflite"]["outputs"].get("compiled_tflite")
    if shipped:
        _compare_with_shipped(Path(tflite), Path(shipped), version, out_dir, result)
        result.outputs.setdefault("compiled_tflite", shipped)
    result.info["source"] = source
    for name in ("edgetpu_ops_tpu", "edgetpu_ops_cpu", "edgetpu_tpu_subgraphs"):
        result.metric_info[name] = {"source": source}
    compiled = result.outputs.get("compiled_tflite")
    estimate = summary.get("estimate")
    if compiled:
        from_compiler = _compiled_estimate(Path(compiled))
        if from_compiler and not from_compiler["cycles"]:
            # the compiler wrote no cycles (16.0 does not): the predicted latency and cycles
            # stand in, labelled predicted; the compiler's parameter split replaces the rest
            _record_estimate(estimate, result)
        estimate = from_compiler
    _record_estimate(estimate, result)
    return result


def _compiled_estimate(compiled: Path) -> dict | None:
    """The compiler's own parameter split and cycles in the compiled model, priced like a
    prediction (`analyze_file` would predict it as a CPU model)."""
    from tpulens.analyzer import compiled as compiled_model
    from tpulens.analyzer import estimate
    from tpulens.analyzer.model import read_model

    model = read_model(compiled)
    found = estimate.from_compiled(model, compiled_model.custom_ops(model))
    return found.to_json() if found else None


def estimate_metrics(estimate: dict | None) -> tuple[dict[str, float], dict[str, dict]]:
    """The record's Edge TPU cost metrics and their `metric_info` from a `summary.estimate`
    (none when no op maps to the Edge TPU: such a model has no Edge TPU cost)."""
    if not estimate:
        return {}, {}
    source = estimate.get("source") or "predicted"
    metrics = {
        "edgetpu_param_on_chip_bytes": estimate["parameters"]["on_chip_bytes"],
        "edgetpu_param_off_chip_bytes": estimate["parameters"]["off_chip_bytes"],
    }
    if estimate.get("cycles"):  # compiler 16.0 writes 0: no figure rather than a false one
        metrics["edgetpu_cycles"] = estimate["cycles"]
    info = {name: {"source": source} for name in metrics}
    for link in LINKS:
        if estimate["latency_ms"].get(link) is None:  # not priced (no cycles from the compiler)
            continue
        key = est_latency_key(link)
        metrics[key] = estimate["latency_ms"][link]
        if source == "compiler":  # still a prediction: the compiler gives no time
            info[key] = {"description": f"{meaning(key).description}; from the compiler's own "
                                        "parameter split and cycles"}
        bounds = estimate.get("latency_range_ms", {}).get(link)
        if bounds and None not in bounds:
            metrics.update(zip(bound_keys(key), bounds, strict=True))
    return metrics, info


def _record_estimate(estimate: dict | None, result: StepResult) -> None:
    metrics, info = estimate_metrics(estimate)
    result.metrics.update(metrics)
    result.metric_info.update(info)
    result.info["estimate_source"] = estimate.get("source", "predicted") if estimate else None


def _compile_for_real(tflite: Path, out_dir: Path, result: StepResult) -> str:
    """Run edgetpu_compiler; op counts from its parsed log. Returns the metrics' source."""
    from tpulens.analyzer.logs import parse_log

    proc = subprocess.run([COMPILER, "-s", "-o", str(out_dir), str(tflite)], capture_output=True,
                          text=True, timeout=COMPILER_TIMEOUT_S, check=False)
    log_text = proc.stdout + proc.stderr
    (out_dir / "compiler.log").write_text(log_text)
    result.outputs["compiler_log"] = str(out_dir / "compiler.log")
    parsed = parse_log(log_text)
    _write_json(out_dir / "compiler_log.json", parsed.to_json())
    model = parsed.model_for(tflite.name) or (parsed.models[0] if parsed.models else None)
    compiled = out_dir / f"{tflite.stem}_edgetpu.tflite"
    if compiled.exists():
        result.outputs["compiled_tflite"] = str(compiled)
    if model is not None and model.rows:
        tpu, cpu = model.mapped_in_table, model.ops_in_table - model.mapped_in_table
    elif model is not None and "ops_tpu" in model.summary:  # older compilers: summary lines
        tpu, cpu = model.summary["ops_tpu"], model.summary.get("ops_cpu", 0)
    else:
        result.notes.append(f"{COMPILER} exited {proc.returncode} without an operator table; "
                            "op counts are predicted")
        return "predicted"
    result.metrics["edgetpu_ops_tpu"], result.metrics["edgetpu_ops_cpu"] = tpu, cpu
    result.info["compiler_version"] = parsed.compiler_version
    return "log"


def _compare_with_shipped(cpu: Path, compiled: Path, version: str, out_dir: Path,
                          result: StepResult) -> None:
    """Prediction vs the real compiler's output."""
    from tpulens.analyzer.compare import compare_files

    comparison = compare_files(cpu, compiled_path=compiled, compiler_version=version).to_json()
    _write_json(out_dir / "comparison.json", comparison)
    result.outputs["comparison"] = str(out_dir / "comparison.json")
    actual = comparison["actual"]
    for src, dst in (("ops_tpu", "edgetpu_ops_tpu_compiler"),
                     ("ops_cpu", "edgetpu_ops_cpu_compiler")):
        if isinstance(actual.get(src), int):
            result.metrics[dst] = actual[src]
            result.metric_info[dst] = {"source": "compiler"}
    result.metrics["edgetpu_prediction_disagreements"] = len(comparison["op_differences"])
    result.metric_info["edgetpu_prediction_disagreements"] = {"source": "compiler"}
    result.info["prediction_agrees"] = comparison["agree"]
    if not comparison["agree"]:
        result.notes.append(f"prediction differs from the shipped compiled model in "
                            f"{len(comparison['op_differences'])} op(s): see the comparison")


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")
