"""Synthetic results directories in the data-contract shapes, for benchmarks and tests.

The numbers are made up and labelled so (environment cpu "synthetic"); never publish them.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SYNTHETIC_ENV = {
    "python": "3.11",
    "tensorflow": "2.21.0",
    "ai_edge_litert": "2.3.0",
    "cpu": "synthetic fixture",
    "machine": "x86_64",
    "threads": 2,
    "edgetpu_runtime": None,
}
INFO = {
    "accuracy": {"unit": "fraction", "better": "higher", "source": "measured"},
    "accuracy_int8": {"unit": "fraction", "better": "higher", "source": "measured"},
    "latency_ms_p50": {"unit": "ms", "better": "lower", "source": "measured"},
    "size_bytes": {"unit": "bytes", "better": "lower", "source": "measured"},
    "gzip_bytes": {"unit": "bytes", "better": "lower", "source": "measured"},
    "objective": {"unit": "", "better": "lower", "source": "measured"},
    "edgetpu_ops_tpu": {"unit": "ops", "better": "higher", "source": "predicted"},
    "edgetpu_ops_cpu": {"unit": "ops", "better": "lower", "source": "predicted"},
}
MAPPED = "Mapped to Edge TPU"
AFTER = "More than one subgraph is not supported"
UNSUPPORTED = "Operation not supported"


def record(
    experiment: str,
    variant: str,
    metrics: dict | None = None,
    status: str = "ok",
    analysis: str | None = None,
    notes: list[str] = (),
) -> dict:
    info = {k: v for k, v in INFO.items() if k in (metrics or {})}
    for key in metrics or {}:
        if key.startswith("coco_"):
            info[key] = {"unit": "AP", "better": "higher", "source": "measured"}
    return {
        "schema_version": 1,
        "experiment": experiment,
        "variant": variant,
        "status": status,
        "params": {"variant": variant},
        "metrics": metrics or {},
        "metric_info": info,
        "artifacts": {"analysis": analysis} if analysis else {},
        "timings": {"evaluate": 1.0},
        "environment": SYNTHETIC_ENV,
        "git_commit": "0000000",
        "created": "2026-01-01T00:00:00Z",
        "notes": list(notes),
    }


def op(
    index: int,
    opcode: str,
    placement: str,
    status: str,
    reason: str = "MAPPED",
    root_cause: int | None = None,
    name: str | None = None,
    dtype: str = "INT8",
) -> dict:
    out = name or f"t{index}"
    return {
        "subgraph": 0,
        "index": index,
        "opcode": opcode,
        "custom_code": None,
        "version": 1,
        "input_tensors": [
            {"name": f"t{index - 1}" if index else "input", "dtype": dtype, "shape": [1, 8, 8, 4]}
        ],
        "output_tensors": [{"name": out, "dtype": dtype, "shape": [1, 8, 8, 4]}],
        "placement": placement,
        "status": status,
        "reason_code": reason,
        "root_cause": root_cause,
        "explanation": "" if placement == "TPU" else f"{opcode} stays on the CPU",
        "fix": "" if placement == "TPU" else f"replace {opcode}",
    }


def analysis(name: str, ops: list[dict], source: str = "predicted") -> dict:
    """An Analysis JSON whose summary and table agree with its ops."""
    table: dict[tuple, int] = {}
    for o in ops:
        table[(o["opcode"], o["status"])] = table.get((o["opcode"], o["status"]), 0) + 1
    tpu = sum(o["placement"] == "TPU" for o in ops)
    verdict = "full" if tpu == len(ops) else "none" if tpu == 0 else "partial"
    return {
        "schema_version": 2,
        "model": {"path": name, "name": name, "size_bytes": 1000 + 100 * len(ops), "kind": "cpu"},
        "source": source,
        "compiler_version": "16.0",
        "options": {
            "enable_multiple_subgraphs": False,
            "intermediate_tensors": [],
            "min_runtime_version": 14,
        },
        "summary": {
            "ops_total": len(ops),
            "ops_tpu": tpu,
            "ops_cpu": len(ops) - tpu,
            "tpu_subgraphs": 1 if tpu else 0,
            "verdict": verdict,
            "compiler_version": "16.0",
            "source": source,
        },
        "table": [{"operator": k[0], "count": n, "status": k[1]} for k, n in table.items()],
        "errors": [],
        "ops": ops,
    }


def chain_analysis(name: str, n_ops: int, cut_every: int = 0, seed: int = 0) -> dict:
    """A chain of ops; with cut_every, an unsupported op every cut_every ops, the first of
    which cuts the partition (ops after it leave the TPU and point to it as root cause)."""
    rng = random.Random(seed)
    opcodes = ["CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "RELU", "MAX_POOL_2D"]
    ops, cause = [], None
    for i in range(n_ops):
        if cut_every and i % cut_every == cut_every - 1:
            ops.append(op(i, "CUSTOM", "CPU", UNSUPPORTED, "UNSUPPORTED_OP"))
            cause = i if cause is None else cause
        elif cause is not None:
            ops.append(op(i, rng.choice(opcodes), "CPU", AFTER, "AFTER_PARTITION", cause))
        else:
            ops.append(op(i, rng.choice(opcodes), "TPU", MAPPED))
    return analysis(name, ops)


def write(results: Path, rel: str, data: dict) -> Path:
    path = Path(results) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    return path


def write_study_results(results: Path) -> Path:
    """One experiment per study shape, plus skipped and failed records."""
    quant = {
        "float32": dict(accuracy=0.91, latency_ms_p50=2.0, size_bytes=320_000, objective=0.0),
        "dynamic_range": dict(accuracy=0.89, latency_ms_p50=2.4, size_bytes=84_000, objective=-0.6),
        "int8": dict(
            accuracy=0.905,
            latency_ms_p50=1.1,
            size_bytes=82_000,
            objective=-1.2,
            edgetpu_ops_tpu=12,
            edgetpu_ops_cpu=0,
        ),
        "float16": dict(accuracy=0.91, latency_ms_p50=2.1, size_bytes=161_000, objective=-0.5),
    }
    for variant, metrics in quant.items():
        ref = f"analysis/quantization-{variant}.json" if "edgetpu_ops_tpu" in metrics else None
        write(
            results,
            f"quantization/{variant}.json",
            record("quantization", variant, metrics, analysis=ref),
        )
    write(results, "analysis/quantization-int8.json", chain_analysis("int8.tflite", 12))
    write(
        results,
        "quantization/int8_uint8_io.json",
        record(
            "quantization",
            "int8_uint8_io",
            status="skipped",
            notes=["skipped: no representative dataset"],
        ),
    )
    collab = {
        "baseline": dict(
            accuracy=0.93, accuracy_int8=0.925, size_bytes=528_128, gzip_bytes=434_879
        ),
        "pruned": dict(accuracy=0.92, accuracy_int8=0.915, size_bytes=528_128, gzip_bytes=334_154),
        "pqat": dict(accuracy=0.921, accuracy_int8=0.921, size_bytes=512_032, gzip_bytes=303_997),
    }
    for variant, metrics in collab.items():
        write(results, f"collaborative/{variant}.json", record("collaborative", variant, metrics))
    write(
        results,
        "collaborative/pcqat.json",
        record("collaborative", "pcqat", status="failed", notes=["failed: out of memory"]),
    )
    coco = {"AP": (0.824, 0.805), "AP50": (0.973, 0.969), "APs": (-1, -1), "AP_car": (0.885, 0.855)}
    for i, variant in enumerate(("float", "int8")):
        metrics = {f"coco_{k}": v[i] for k, v in coco.items()}
        metrics["size_bytes"] = 12_000_000 / (1 + 3 * i)
        ref = f"analysis/detection-{variant}.json" if i else None
        write(
            results,
            f"detection/{variant}.json",
            record("detection", variant, metrics, analysis=ref),
        )
    write(results, "analysis/detection-int8.json", chain_analysis("det_int8.tflite", 40, 15))
    return results


def write_scaling_results(
    results: Path, n_records: int, per_experiment: int = 10, ops_per_model: int = 20
) -> Path:
    """n_records records, per_experiment variants each, every 5th with an analysis."""
    rng = random.Random(n_records)
    for i in range(n_records):
        exp, variant = f"exp{i // per_experiment:04d}", f"v{i % per_experiment:02d}"
        metrics = dict(
            accuracy=rng.uniform(0.7, 0.95),
            latency_ms_p50=rng.uniform(0.5, 5),
            size_bytes=rng.randint(50_000, 500_000),
        )
        metrics["gzip_bytes"] = int(metrics["size_bytes"] * rng.uniform(0.6, 0.95))
        ref = None
        if i % 5 == 0:
            ref = f"analysis/{exp}-{variant}.json"
            write(
                results,
                ref,
                chain_analysis(
                    f"{exp}-{variant}.tflite", ops_per_model, ops_per_model // 2, seed=i
                ),
            )
        write(results, f"{exp}/{variant}.json", record(exp, variant, metrics, analysis=ref))
    return results


def write_history(
    results: Path,
    experiment: str,
    series: dict[str, dict[str, list[float]]],
    analyses: dict[str, list[dict]] | None = None,
) -> list[str]:
    """One run a day from 2026-01-01 per value, at commits c00, c01, …: each variant of `series`
    (variant → metric → one value per run) writes a record, with its analysis from `analyses`
    (variant → one per run) when given, into the run's folder; the newest run's records are
    also the latest (top-level). The run ids, oldest first."""
    from datetime import UTC, datetime, timedelta

    from tpulens.history import store

    n = len(next(iter(next(iter(series.values())).values())))
    ids = []
    for i in range(n):
        run = store.new_run(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=i), f"c{i:02d}",
                            False, "ci", "default")
        folder = store.run_dir(results, run.id)
        write(folder, store.RUN_FILE, run.to_json())
        for variant, metrics in series.items():
            ref = f"analysis/{experiment}-{variant}.json" if analyses else None
            data = record(experiment, variant, {k: v[i] for k, v in metrics.items()},
                          analysis=ref)
            data.update(run=run.id, git_commit=run.git_commit, created=run.started)
            places = (folder, results) if i == n - 1 else (folder,)
            for place in places:
                write(place, f"{experiment}/{variant}.json", data)
                if ref:
                    write(place, ref, analyses[variant][i])
        ids.append(run.id)
    return ids


def write_detection_results(results: Path, experiment: str = "detection") -> Path:
    """The Keras, float and int8 records of a detection experiment with their example images
    and boxes (artifacts.examples), in the shape the runners write them."""
    from PIL import Image

    classes = ["bag", "trouser"]
    for number, export in enumerate(("int8", "keras", "float")):  # written out of order
        folder = f"examples/{experiment}-{export}"
        images = []
        for i in range(3):
            path = results / folder / f"{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (128, 96), (40 * i, 90, 160)).save(path, quality=85)
            truth = [{"label": classes[i % 2], "box": [10.0, 12.0, 60.0 + i, 70.0]}]
            found = [
                {"label": classes[i % 2], "score": 0.9 - 0.1 * number, "box": [12, 10, 58, 72]},
                {"label": classes[(i + 1) % 2], "score": 0.3, "box": [70, 20, 120, 90]},
            ]
            images.append(
                {"file": f"{i}.jpg", "source": f"01{i}.jpg", "width": 128, "height": 96,
                 "ground_truth": truth, "predictions": found[: 1 + (number + i) % 2]}
            )
        write(results, f"{folder}/examples.json",
              {"classes": classes, "min_score": 0.25, "images": images})
        metrics = {"coco_AP": 0.6 - 0.05 * number, "coco_AP50": 0.9 - 0.02 * number,
                   "coco_AP_bag": 0.7 - 0.05 * number, "coco_AP_trouser": 0.5 - 0.05 * number,
                   "size_bytes": 900_000 / (1 + number), "latency_ms_p50": 3.0 + number}
        data = record(experiment, export, metrics)
        data["params"] = {"export": export, "images": 110}
        data["artifacts"]["examples"] = f"{folder}/examples.json"
        runtime = "TensorFlow CPU, Keras model" if export == "keras" else "LiteRT CPU"
        data["metric_info"]["latency_ms_p50"]["description"] = f"{runtime}, 2 thread(s)"
        write(results, f"{experiment}/{export}.json", data)
    return results
