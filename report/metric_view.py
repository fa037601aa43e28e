"""Metrics as the site shows them: order, formatting, derived values and who wins.

What a metric means comes from its record's `metric_info`, else from `tpulens.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tpulens.analyzer.estimate import DEFAULT_LINK, LINKS
from tpulens.metrics import Better, Device, est_latency_key, label, meaning
from tpulens.report.load import PublishedAnalysis, Record

# The predicted latency on the other links: on the model and compare pages, not as columns of
# the experiment table, which would be three Edge TPU latencies wide.
OTHER_LINKS = tuple(est_latency_key(link) for link in LINKS if link != DEFAULT_LINK)

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
    "edgetpu_latency_ms_p50",
    est_latency_key(DEFAULT_LINK),
    *OTHER_LINKS,
    "edgetpu_param_on_chip_bytes",
    "edgetpu_param_off_chip_bytes",
    "edgetpu_cycles",
    "latency_ms_p50",
    "latency_ms_p90",
    "latency_ms_p99",
    "latency_ms_mean",
    "edgetpu_latency_ms_p90",
    "edgetpu_latency_ms_p99",
    "edgetpu_latency_ms_mean",
    "edgetpu_share",
    "edgetpu_ops_tpu",
    "edgetpu_ops_cpu",
    "edgetpu_tpu_subgraphs",
)
# The accuracy of the deployed .tflite, in order of preference, for charts and verdicts.
ACCURACY_KEYS = ("accuracy_int8", "accuracy", "coco_AP", "top1")
LATENCY_KEYS = ("latency_ms_p50", "latency_ms_mean", "latency_ms")  # on the host CPU
# The site's speed axis: the Edge TPU latency measured on the device when the run had one
# (then every compiled variant has it), else the predicted one on the default link.
SPEED_KEYS = ("edgetpu_latency_ms_p50", est_latency_key(DEFAULT_LINK))
VERDICT_KEYS = (
    "accuracy_int8",
    "accuracy",
    "coco_AP",
    "objective",
    "size_bytes",
    "gzip_bytes",
    *SPEED_KEYS,
    "latency_ms_p50",
    "edgetpu_share",
)


@dataclass(frozen=True)
class MetricMeta:
    key: str
    label: str
    unit: str
    better: str  # a Better value
    description: str = ""


def meta(key: str, info: dict | None = None) -> MetricMeta:
    """The metric's meaning, with what its record says (unit, direction, description) first."""
    info = info or {}
    known = meaning(key)
    unit = str(info.get("unit") or known.unit)
    if key.startswith("coco_"):
        unit = "AP"  # shown as pycocotools prints it: 0.824, and -1 for "no such objects"
    better = info.get("better")
    return MetricMeta(
        key,
        label(key),
        unit,
        better if better in tuple(Better) else str(known.better),
        str(info.get("description") or known.description),
    )


# How a unit is written after a number or in a column header ("" for none).
UNIT_SYMBOLS = {"fraction": "%", "bytes": "B", "ms": "ms", "%": "%", "AP": "", "score": ""}
# Whole numbers, their unit in words.
COUNT_UNITS = ("ops", "parameters", "values", "subgraphs", "cycles")


def unit_symbol(unit: str) -> str:
    return UNIT_SYMBOLS.get(unit, unit)


def header_unit(label: str, unit: str) -> str:
    """The unit to write after a metric's label in a header or on an axis: none when the label
    already names it ("Edge TPU subgraphs", "ops on Edge TPU")."""
    symbol = unit_symbol(unit)
    return "" if symbol in label.split() else symbol


def format_number(value: float | None, unit: str) -> str:
    """The number as the unit's readers expect it, without the unit (a column header gives it)."""
    if value is None:
        return "–"
    if unit in ("fraction", "%"):
        return f"{value * (100 if unit == 'fraction' else 1):.2f}"
    if unit == "bytes":
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.3f}"
    if unit in COUNT_UNITS and value == int(value):
        return f"{value:,.0f}"
    if unit == "AP":
        return "n/a (-1)" if value == -1 else f"{value:.3f}"
    return f"{value:.4g}"


def format_value(value: float | None, unit: str) -> str:
    """The number with its unit, for text that stands alone (verdicts, summaries)."""
    text = format_number(value, unit)
    symbol = unit_symbol(unit)
    if value is None or not symbol or unit in COUNT_UNITS or (unit == "AP" and value == -1):
        return text
    return f"{text} {symbol}"


def range_text(low: float | None, high: float | None, unit: str) -> str:
    """" (0.912 – 1.404)" after a figure with a range (both ends known), else ""."""
    if low is None or high is None:
        return ""
    return f" ({format_number(low, unit)} – {format_number(high, unit)})"


def effective_metrics(record: Record,
                      analysis: PublishedAnalysis | None) -> dict[str, tuple[float, str]]:
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
    """The metrics to show as columns, in order; a range's ends go in their metric's cell."""
    keys = {k for k in keys if not meaning(k).bound_of}
    head = [k for k in HEADLINE if k in keys]
    return head + sorted(k for k in keys if k not in HEADLINE)


def on_edgetpu_only(key: str) -> bool:
    """Whether the metric is a timing on the Edge TPU: a model none of whose ops reach the
    chip has none, and never wins it."""
    return meaning(key).device == Device.EDGE_TPU


def first_present(keys: tuple[str, ...], present: set[str]) -> str | None:
    return next((k for k in keys if k in present), None)


def winners(values: dict[str, float], better: str) -> list[str]:
    """Names holding the best value (all of them on a tie); none when direction is unknown."""
    if not values or better not in (Better.HIGHER, Better.LOWER):
        return []
    best = max(values.values()) if better == Better.HIGHER else min(values.values())
    return sorted(name for name, value in values.items() if value == best)


def pareto_front(
    points: list[tuple[float, float]],
    x_better: str = Better.LOWER,
    y_better: str = Better.HIGHER,
) -> list[int]:
    """Indices of the non-dominated points, ordered along x (ties broken by y)."""
    sx = 1 if x_better == Better.LOWER else -1
    sy = -1 if y_better == Better.HIGHER else 1
    order = sorted(range(len(points)), key=lambda i: (sx * points[i][0], sy * points[i][1]))
    front, best_y = [], None
    for i in order:
        y = sy * points[i][1]
        if best_y is None or y < best_y:
            front.append(i)
            best_y = y
    return front
