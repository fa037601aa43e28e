"""`evaluate`: measure a `.tflite` with the LiteRT interpreter.

Top-1 accuracy on the test split and a train subset (batched: the batch dimension is resized),
CPU latency per image (warm-up runs, then p50/p90/p99/mean over `latency_runs` single-image
invokes, with the worker's thread count), file and gzip size, weight sparsity and unique values
per channel, and, when an Edge TPU runtime loads, the compiled model's latency on the device.
The latency samples themselves go into the record too (`samples`), so that `tpulens diff` can
tell a slowdown from noise.
"""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np

from tpulens.runners import datasets
from tpulens.runners.cache import timing_lock
from tpulens.runners.environment import environment
from tpulens.runners.stages import StepResult
from tpulens.runners.tflite_weights import weight_stats

EDGETPU_LIBRARY = "libedgetpu.so.1"
EVAL_BATCH = 128
MAX_SAMPLES = 1000  # latency samples kept in a record (evenly spaced when there are more)


def run(config: dict, inputs: dict, out_dir, ctx) -> StepResult:
    from ai_edge_litert.interpreter import Interpreter

    path = Path(inputs["tflite"]["outputs"]["tflite"])
    blob = path.read_bytes()
    gz = len(gzip.compress(blob, compresslevel=9))
    metrics = {"size_bytes": len(blob), "gzip_bytes": gz,
               "compression_pct": round(100.0 * (1 - gz / len(blob)), 2)}
    stats = weight_stats(path)
    if stats:
        metrics.update(sparsity=round(stats.sparsity, 4),
                       unique_weights_per_channel_max=stats.unique_per_channel_max,
                       unique_weights_per_channel_mean=round(stats.unique_per_channel_mean, 2))
    notes, samples = [], {}
    if config["evaluate"].get("accuracy") and config.get("dataset"):
        data = datasets.prepared(config["dataset"], config["input_size"])
        x_train, y_train = datasets.subset(data.x_train, data.y_train,
                                           config["dataset"]["eval_train_samples"], 7)
        metrics["accuracy"] = top1(Interpreter, path, data.x_test, data.y_test, ctx.threads)
        metrics["accuracy_train"] = top1(Interpreter, path, x_train, y_train, ctx.threads)
    if config["evaluate"].get("latency", True):
        interpreter = Interpreter(model_path=str(path), num_threads=ctx.threads)
        interpreter.allocate_tensors()
        with timing_lock(ctx.cache_dir):
            lat, samples["latency_ms"] = latency(interpreter, config["latency_warmup"],
                                                 config["latency_runs"])
        metrics.update({f"latency_ms_{k}": v for k, v in lat.items()})
    with timing_lock(ctx.cache_dir):
        device_note, runtime = edgetpu_latency(inputs.get("compile"), config, metrics, samples)
    notes.append(device_note)
    return StepResult(metrics=metrics, notes=[n for n in notes if n],
                      info={"environment": environment(ctx.threads, runtime),
                            "latency_runs": config["latency_runs"],
                            "latency_warmup": config["latency_warmup"],
                            "samples": samples})


def _set_input(interpreter, detail, x: np.ndarray) -> None:
    """Quantize float inputs with the tensor's scale/zero point when the model takes ints."""
    if np.issubdtype(detail["dtype"], np.integer):
        scale, zero = detail["quantization"]
        info = np.iinfo(detail["dtype"])
        x = np.clip(np.round(x / scale + zero), info.min, info.max)
    interpreter.set_tensor(detail["index"], x.astype(detail["dtype"]))


def top1(interpreter_cls, path: Path, x: np.ndarray, y: np.ndarray, threads: int) -> float:
    """Top-1 accuracy, invoking on batches (argmax is unaffected by output quantization)."""
    interpreter = interpreter_cls(model_path=str(path), num_threads=threads)
    inp = interpreter.get_input_details()[0]
    correct, batch_shape = 0, None
    for start in range(0, len(x), EVAL_BATCH):
        batch = x[start:start + EVAL_BATCH]
        if batch.shape != batch_shape:
            interpreter.resize_tensor_input(inp["index"], list(batch.shape))
            interpreter.allocate_tensors()
            batch_shape = batch.shape
            inp = interpreter.get_input_details()[0]
            out = interpreter.get_output_details()[0]
        _set_input(interpreter, inp, batch)
        interpreter.invoke()
        scores = interpreter.get_tensor(out["index"]).reshape(len(batch), -1)
        correct += int(np.sum(np.argmax(scores, axis=1) == y[start:start + EVAL_BATCH]))
    return correct / len(x)


def latency(interpreter, warmup: int, runs: int) -> tuple[dict, list[float]]:
    """Milliseconds per single-image invoke after warm-up runs: p50/p90/p99/mean, and the
    samples in the order they were taken (at most MAX_SAMPLES of them)."""
    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        shape = [d if d > 0 else 1 for d in detail["shape"]]
        if np.issubdtype(detail["dtype"], np.integer):
            info = np.iinfo(detail["dtype"])
            value = rng.integers(info.min, info.max, size=shape, endpoint=True)
        else:
            value = rng.random(shape)
        interpreter.set_tensor(detail["index"], value.astype(detail["dtype"]))
    for _ in range(warmup):
        interpreter.invoke()
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times[i] = time.perf_counter() - start
    ms = times * 1000.0
    stats = {"p50": round(float(np.percentile(ms, 50)), 4),
             "p90": round(float(np.percentile(ms, 90)), 4),
             "p99": round(float(np.percentile(ms, 99)), 4),
             "mean": round(float(ms.mean()), 4)}
    return stats, kept_samples(ms)


def kept_samples(ms) -> list[float]:
    """The latency samples a record keeps: all of them, or MAX_SAMPLES evenly spaced."""
    ms = np.asarray(ms, dtype=float)
    if ms.size > MAX_SAMPLES:
        ms = ms[np.linspace(0, ms.size - 1, MAX_SAMPLES).round().astype(int)]
    return [round(float(t), 4) for t in ms]


def load_edgetpu_delegate():
    """(delegate, None) when libedgetpu loads through LiteRT, else (None, why not)."""
    try:
        from ai_edge_litert.interpreter import load_delegate

        return load_delegate(EDGETPU_LIBRARY), None
    except (ValueError, OSError, RuntimeError) as err:
        return None, f"{EDGETPU_LIBRARY} not loadable: {str(err).splitlines()[0][:120]}"


def edgetpu_latency(compile_manifest: dict | None, config: dict, metrics: dict, samples: dict):
    """Time the compiled model on the Edge TPU when a runtime and a compiled model exist."""
    delegate, why = load_edgetpu_delegate()
    if delegate is None:
        return f"on-device timing skipped: {why}", None
    compiled = (compile_manifest or {}).get("outputs", {}).get("compiled_tflite")
    if not compiled:
        return ("on-device timing skipped: no compiled *_edgetpu.tflite "
                "(edgetpu_compiler not on PATH)"), EDGETPU_LIBRARY
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=compiled, experimental_delegates=[delegate])
    interpreter.allocate_tensors()
    lat, samples["edgetpu_latency_ms"] = latency(interpreter, config["latency_warmup"],
                                                 config["latency_runs"])
    metrics.update({f"edgetpu_latency_ms_{k}": v for k, v in lat.items()})
    return None, EDGETPU_LIBRARY
