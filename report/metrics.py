"""What a metric means (label, unit, direction), where its value came from, and who wins.

Records carry `metric_info` (unit, better, source); names the runners did not describe get
sensible defaults from their name so new metrics still render.
"""

from __future__ import annotations

from dataclasses import dataclass

from tpulens.report.load import Analysis, Record

# Metrics shown first, in this order; any other metric follows alphabetically.
HEADLINE = (
    "accuracy_int8",
    "accuracy",
    "accuracy_keras",
    "accuracy_train",
    "train_accuracy",
    "coco_AP",
    "objective",
    "size_bytes",
    "gzip_bytes",
    "compression_pct",
    "latency_ms_p50",
    "latency_ms_p90",
    "latency_ms_p99",
    "edgetpu_latency_ms_p50",
    "edgetpu_share",
    "edgetpu_ops_tpu",
    "edgetpu_ops_cpu",
)
# The accuracy of the deployed .tflite, in order of preference, for charts and verdicts.
ACCURACY_KEYS = ("accuracy_int8", "accuracy", "coco_AP", "top1")
LATENCY_KEYS = ("latency_ms_p50", "latency_ms_mean", "latency_ms")
VERDICT_KEYS = (
    "accuracy_int8",
    "accuracy",
    "coco_AP",
    "objective",
    "size_bytes",
    "gzip_bytes",
    "latency_ms_p50",
    "edgetpu_share",
)

LABELS = {
    "accuracy": "accuracy",
    "accuracy_int8": "INT8 accuracy",
    "train_accuracy": "train accuracy",
    "accuracy_train": "train accuracy",
    "accuracy_keras": "Keras accuracy",
    "compression_pct": "compression",
    "edgetpu_latency_ms_p50": "Edge TPU latency p50",
    "objective": "objective score",
    "size_bytes": "size",
    "gzip_bytes": "gzip size",
    "latency_ms_p50": "latency p50",
    "latency_ms_p90": "latency p90",
    "edgetpu_share": "Edge TPU share",
    "edgetpu_ops_tpu": "ops on TPU",
    "edgetpu_ops_cpu": "ops on CPU",
    "coco_AP": "COCO AP",
}
SOURCE_BADGES = {"measured": "m", "predicted": "p", "compiler": "c", "log": "l"}


@dataclass(frozen=True)
class MetricMeta:
    key: str
    label: str
    unit: str
    better: str  # higher | lower | none
    description: str = ""


def meta(key: str, info: dict | None = None) -> MetricMeta:
    info = info or {}
    unit = str(info.get("unit") or _default_unit(key))
    if key.startswith("coco_"):
        unit = "AP"  # shown as pycocotools prints it: 0.824, and -1 for "no such objects"
    better = str(info.get("better") or _default_better(key))
    return MetricMeta(
        key,
        LABELS.get(key, key.replace("_", " ")),
        unit,
        better,
        str(info.get("description") or ""),
    )


def _default_unit(key: str) -> str:
    if key.endswith("_bytes"):
        return "bytes"
    if "latency_ms" in key or key.endswith("_ms"):
        return "ms"
    if key.startswith(("accuracy", "train_accuracy")) or key == "edgetpu_share":
        return "fraction"
    if key == "compression_pct":
        return "%"
    if key.startswith("coco_"):
        return "AP"
    if key.startswith("edgetpu_ops"):
        return "ops"
    return ""


def _default_better(key: str) -> str:
    if key.startswith(("accuracy", "coco_", "top")) or key in (
        "edgetpu_share",
        "compression_pct",
        "edgetpu_ops_tpu",
    ):
        return "higher"
    if key.endswith(("_bytes", "_cpu")) or "latency" in key or key == "objective":
        return "lower"
    return "none"


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "fraction":
        return f"{value * 100:.2f} %"
    if unit == "bytes":
        return f"{value:,.0f} B"
    if unit == "ms":
        return f"{value:.3f} ms"
    if unit == "%":
        return f"{value:.2f} %"
    if unit in ("ops", "parameters", "values", "subgraphs") and value == int(value):
        return f"{value:,.0f}"
    if unit == "AP":
        return "n/a (-1)" if value == -1 else f"{value:.3f}"
    return f"{value:.4g}"


def provenance(source: str, environment: dict) -> str:
    """One sentence saying where a number comes from, shown as the cell's tooltip."""
    if source == "measured":
        cpu = environment.get("cpu") or "an unrecorded CPU"
        machine = environment.get("machine") or "?"
        threads = environment.get("threads")
        where = f"{cpu} ({machine}" + (f", {threads} threads)" if threads else ")")
        return f"measured on {where}"
    return {
        "predicted": "predicted by the tpulens analyzer (no edgetpu_compiler run)",
        "compiler": "read from the compiled *_edgetpu.tflite (real edgetpu_compiler)",
        "log": "parsed from an edgetpu_compiler log",
        "derived": "computed from other metrics of this record",
    }.get(source, "source not recorded")


def effective_metrics(record: Record, analysis: Analysis | None) -> dict[str, tuple[float, str]]:
    """Record metrics plus derived ones (Edge TPU share, compression %), each with its source."""
    out = {
        k: (v, str(record.metric_info.get(k, {}).get("source") or ""))
        for k, v in record.metrics.items()
    }
    # A real compiler's counts, when the runners had one, beat the analyzer's prediction.
    tpu = out.get("edgetpu_ops_tpu_compiler") or out.get("edgetpu_ops_tpu")
    cpu = out.get("edgetpu_ops_cpu_compiler") or out.get("edgetpu_ops_cpu")
    if "edgetpu_share" not in out:
        if tpu and cpu is not None and tpu[0] + cpu[0] > 0:
            out["edgetpu_share"] = (tpu[0] / (tpu[0] + cpu[0]), tpu[1])
        elif analysis is not None:
            summary = analysis.data["summary"]
            total, on_tpu = summary.get("ops_total"), summary.get("ops_tpu")
            if isinstance(total, int | float) and isinstance(on_tpu, int | float) and total > 0:
                source = analysis.data["source"]
                out["edgetpu_share"] = (on_tpu / total, source)
    size, gzip = out.get("size_bytes"), out.get("gzip_bytes")
    if "compression_pct" not in out and size and gzip and size[0] > 0:
        out["compression_pct"] = (100 * (1 - gzip[0] / size[0]), size[1] or gzip[1])
    return out


def metric_order(keys: set[str]) -> list[str]:
    head = [k for k in HEADLINE if k in keys]
    return head + sorted(k for k in keys if k not in HEADLINE)


def first_present(keys: tuple[str, ...], present: set[str]) -> str | None:
    return next((k for k in keys if k in present), None)


def winners(values: dict[str, float], better: str) -> list[str]:
    """Names holding the best value (all of them on a tie); none when direction is unknown."""
    if not values or better not in ("higher", "lower"):
        return []
    best = max(values.values()) if better == "higher" else min(values.values())
    return sorted(name for name, value in values.items() if value == best)


def pareto_front(
    points: list[tuple[float, float]], x_better: str = "lower", y_better: str = "higher"
) -> list[int]:
    """Indices of the non-dominated points, ordered along x (ties broken by y)."""
    sx = 1 if x_better == "lower" else -1
    sy = -1 if y_better == "higher" else 1
    order = sorted(range(len(points)), key=lambda i: (sx * points[i][0], sy * points[i][1]))
    front, best_y = [], None
    for i in order:
        y = sy * points[i][1]
        if best_y is None or y < best_y:
            front.append(i)
            best_y = y
    return front
