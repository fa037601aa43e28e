"""What each metric means, defined once: its unit, which direction is better, where its value
comes from, a short label and a description. The runners write it into every record's
`metric_info`; the report reads it back for names a record does not describe. Standard library
only, so both can import it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tpulens.analyzer.vocabulary import Source


class Better(StrEnum):
    """Which direction of a metric is an improvement."""

    HIGHER = "higher"
    LOWER = "lower"
    NONE = "none"  # descriptive only (sparsity, subgraph count): never a winner


@dataclass(frozen=True)
class Meaning:
    unit: str  # fraction, ms, bytes, %, ops, AP, … (the report formats by it)
    better: Better
    source: Source = Source.MEASURED
    label: str = ""  # short column / axis name; empty: the key with spaces
    description: str = ""  # how the number is obtained, shown as a column tooltip


_HIGH, _LOW, _NONE = Better.HIGHER, Better.LOWER, Better.NONE
_TOP1 = "top-1 on the test split (LiteRT)"

METRICS: dict[str, Meaning] = {
    "accuracy": Meaning("fraction", _HIGH, label="accuracy", description=_TOP1),
    "accuracy_int8": Meaning("fraction", _HIGH, label="INT8 accuracy"),
    "accuracy_train": Meaning(
        "fraction", _HIGH, label="train accuracy", description="top-1 on a train subset (LiteRT)"
    ),
    "train_accuracy": Meaning("fraction", _HIGH, label="train accuracy"),
    "accuracy_keras": Meaning(
        "fraction",
        _HIGH,
        label="Keras accuracy",
        description="top-1 of the Keras model on the test split (fake-quant for QAT)",
    ),
    "latency_ms_p50": Meaning("ms", _LOW, label="latency p50"),
    "latency_ms_p90": Meaning("ms", _LOW, label="latency p90"),
    "latency_ms_p99": Meaning("ms", _LOW),
    "latency_ms_mean": Meaning("ms", _LOW),
    "edgetpu_latency_ms_p50": Meaning("ms", _LOW, label="Edge TPU latency p50"),
    "edgetpu_latency_ms_p90": Meaning("ms", _LOW),
    "edgetpu_latency_ms_p99": Meaning("ms", _LOW),
    "edgetpu_latency_ms_mean": Meaning("ms", _LOW),
    "size_bytes": Meaning("bytes", _LOW, label="size"),
    "gzip_bytes": Meaning("bytes", _LOW, label="gzip size"),
    "compression_pct": Meaning(
        "%", _HIGH, label="compression", description="100 × (1 − gzip/size)"
    ),
    "sparsity": Meaning("fraction", _NONE),
    "unique_weights_per_channel_max": Meaning("values", _NONE),
    "unique_weights_per_channel_mean": Meaning("values", _NONE),
    "params": Meaning("parameters", _LOW),
    "macs": Meaning(
        "MACs", _LOW, description="multiply-accumulates per image (conv, depthwise, dense)"
    ),
    "objective": Meaning(
        "score",
        _LOW,
        label="objective score",
        description="Δsize/size₀ + Δlatency/latency₀ − Δacc/acc₀ against the baseline",
    ),
    "coco_AP": Meaning("AP", _HIGH, label="COCO AP"),
    "edgetpu_share": Meaning("fraction", _HIGH, Source.PREDICTED, label="Edge TPU share"),
    "edgetpu_ops_tpu": Meaning("ops", _HIGH, Source.PREDICTED, label="ops on TPU"),
    "edgetpu_ops_cpu": Meaning("ops", _LOW, Source.PREDICTED, label="ops on CPU"),
    "edgetpu_tpu_subgraphs": Meaning("subgraphs", _NONE, Source.PREDICTED),
    "edgetpu_ops_tpu_compiler": Meaning("ops", _HIGH, Source.COMPILER),
    "edgetpu_ops_cpu_compiler": Meaning("ops", _LOW, Source.COMPILER),
    "edgetpu_prediction_disagreements": Meaning("ops", _LOW, Source.COMPILER),
}


def meaning(key: str) -> Meaning:
    """The table's entry; a name it lacks gets one guessed from its form (`*_bytes`, `latency_ms*`,
    `accuracy*`, `coco_*`, …), so a new metric still renders with a unit and a direction."""
    return METRICS.get(key) or Meaning(_guess_unit(key), _guess_better(key))


def label(key: str) -> str:
    return meaning(key).label or key.replace("_", " ")


def _guess_unit(key: str) -> str:
    if key.endswith("_bytes"):
        return "bytes"
    if "latency_ms" in key or key.endswith("_ms"):
        return "ms"
    if key.startswith("accuracy"):
        return "fraction"
    if key.startswith("coco_"):
        return "AP"
    if key.startswith("edgetpu_ops"):
        return "ops"
    return ""


def _guess_better(key: str) -> Better:
    if key.startswith(("accuracy", "coco_", "top")):
        return Better.HIGHER
    if key.endswith(("_bytes", "_cpu")) or "latency" in key:
        return Better.LOWER
    return Better.NONE


def metric_info(metrics: dict, overrides: dict) -> dict:
    """A record's `metric_info`: unit, direction, source (and description) of each metric, with
    what a step said about its own metrics (e.g. `{"source": "log"}`) taking precedence."""
    out = {}
    for name in metrics:
        known = meaning(name)
        info = {"unit": known.unit, "better": str(known.better), "source": str(known.source)}
        if known.description:
            info["description"] = known.description
        info.update(overrides.get(name, {}))
        out[name] = info
    return out
