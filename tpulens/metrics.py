"""What each metric means, defined once: its unit, which direction is better, where its value
comes from, a short label and a description. The runners write it into every record's
`metric_info`; the report reads it back for names a record does not describe. The host links
are named by the analyzer's cost model (estimate.LINKS), so every page and the CLI word them
alike."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from tpulens.analyzer.estimate import LINKS
from tpulens.analyzer.vocabulary import Source


class Device(StrEnum):
    """Where a timing is measured: the labels say it, since the two differ by orders of
    magnitude and a model that wins on one may not run on the other at all."""

    HOST_CPU = "host CPU"  # LiteRT's interpreter on the machine that ran the suite
    EDGE_TPU = "Edge TPU"


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
    label: str = ""  # short column / axis name, without the unit; empty: from the key
    description: str = ""  # how the number is obtained, shown as a column tooltip
    device: Device | None = None  # for timings: where they are measured
    derived: bool = False  # a score of other metrics: `tpulens diff` judges its parts instead
    bound_of: str = ""  # the low or high end of this metric's range: shown in its cell


_HIGH, _LOW, _NONE = Better.HIGHER, Better.LOWER, Better.NONE
_CPU, _TPU = Device.HOST_CPU, Device.EDGE_TPU
_TOP1 = "top-1 on the test split (LiteRT)"
_CPU_TIME = "wall time of one invoke of the LiteRT interpreter on the host CPU"
_TPU_TIME = "wall time of one invoke on the Edge TPU (libedgetpu delegate)"

BOUNDS = ("low", "high")
_EST_TIME = (
    "predicted time of one inference on {host}, as Coral measures model execution: invoke "
    "overhead, Edge TPU compute, parameters streamed and inputs and outputs sent over the link, "
    "ops left on the CPU and the tensors crossing to them (tpulens Edge TPU cost model)"
)


def est_latency_key(link: str) -> str:
    """The record metric holding the predicted Edge TPU latency on one host link."""
    return f"edgetpu_est_latency_ms_{link}"


def bound_keys(key: str) -> tuple[str, str]:
    """The metrics holding the low and high end of `key`'s range."""
    low, high = BOUNDS
    return f"{key}_{low}", f"{key}_{high}"


def _predicted_latencies() -> dict[str, Meaning]:
    """Per link: the predicted latency (labelled "predicted" and with its host) and its range
    ends, which the site folds into the latency's own cell."""
    out = {}
    for link, words in LINKS.items():
        key, label = est_latency_key(link), f"Edge TPU latency (predicted, {words.name})"
        description = _EST_TIME.format(host=words.host)
        out[key] = Meaning("ms", _LOW, Source.PREDICTED, label, description, _TPU)
        for bound, bound_key in zip(BOUNDS, bound_keys(key), strict=True):
            out[bound_key] = Meaning(
                "ms", _NONE, Source.PREDICTED, f"{label} {bound} end",
                f"{bound} end of the predicted range (the cost model's calibration error)",
                _TPU, bound_of=key,
            )
    return out


def _timings(prefix: str, label: str, device: Device, description: str) -> dict[str, Meaning]:
    """p50, p90, p99 and mean of one kind of timing, labelled alike."""
    return {
        f"{prefix}_{stat}": Meaning(
            "ms", _LOW, label=f"{label} {stat}", description=description, device=device
        )
        for stat in ("p50", "p90", "p99", "mean")
    }


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
    **_timings("latency_ms", "latency", _CPU, _CPU_TIME),
    **_timings("edgetpu_latency_ms", "Edge TPU latency", _TPU, _TPU_TIME),
    **_predicted_latencies(),
    "edgetpu_param_on_chip_bytes": Meaning(
        "bytes",
        _NONE,
        Source.PREDICTED,
        label="parameters cached on-chip",
        description="Edge TPU parameter bytes cached in the chip's memory, loaded once",
    ),
    "edgetpu_param_off_chip_bytes": Meaning(
        "bytes",
        _LOW,
        Source.PREDICTED,
        label="parameters streamed",
        description="Edge TPU parameter bytes that do not fit on-chip and are sent over the "
        "link at every inference",
    ),
    "edgetpu_cycles": Meaning(
        "cycles",
        _LOW,
        Source.PREDICTED,
        label="Edge TPU cycles",
        description="clock cycles of the Edge TPU subgraphs (the compiler's estimated_cycles "
        "when it compiled the model)",
    ),
    "size_bytes": Meaning("bytes", _LOW, label="size", description="size of the .tflite file"),
    "gzip_bytes": Meaning(
        "bytes", _LOW, label="gzip size", description="size of the .tflite file gzip-compressed"
    ),
    "compression_pct": Meaning(
        "%", _HIGH, label="compression", description="100 × (1 − gzip/size)"
    ),
    "sparsity": Meaning(
        "fraction", _NONE, label="sparsity", description="share of weights that are zero"
    ),
    "unique_weights_per_channel_max": Meaning("values", _NONE, label="unique weights max"),
    "unique_weights_per_channel_mean": Meaning("values", _NONE, label="unique weights mean"),
    "params": Meaning("parameters", _LOW, label="parameters"),
    "macs": Meaning(
        "MACs",
        _LOW,
        label="MACs",
        description="multiply-accumulates per image (conv, depthwise, dense)",
    ),
    "objective": Meaning(
        "score",
        _LOW,
        label="objective score",
        description="Δsize/size₀ + Δlatency/latency₀ − Δacc/acc₀ against the baseline",
        derived=True,
    ),
    "coco_AP": Meaning("AP", _HIGH, label="COCO AP"),
    "edgetpu_share": Meaning(
        "fraction",
        _HIGH,
        Source.PREDICTED,
        label="Edge TPU share",
        description="share of the model's ops mapped to the Edge TPU",
    ),
    "edgetpu_ops_tpu": Meaning("ops", _HIGH, Source.PREDICTED, label="ops on Edge TPU"),
    "edgetpu_ops_cpu": Meaning("ops", _LOW, Source.PREDICTED, label="ops on CPU"),
    "edgetpu_tpu_subgraphs": Meaning(
        "subgraphs", _NONE, Source.PREDICTED, label="Edge TPU subgraphs"
    ),
    "edgetpu_ops_tpu_compiler": Meaning(
        "ops", _HIGH, Source.COMPILER, label="ops on Edge TPU (compiler)"
    ),
    "edgetpu_ops_cpu_compiler": Meaning(
        "ops", _LOW, Source.COMPILER, label="ops on CPU (compiler)"
    ),
    "edgetpu_prediction_disagreements": Meaning(
        "ops",
        _LOW,
        Source.COMPILER,
        label="prediction disagreements",
        description="ops whose predicted placement the compiler contradicts",
    ),
}


@lru_cache(maxsize=1 << 16)  # a site asks for the same names again and again
def meaning(key: str) -> Meaning:
    """The table's entry; a name it lacks gets one guessed from its form (`*_bytes`, `latency_ms*`,
    `accuracy*`, `coco_*`, …), so a new metric still renders with a unit and a direction."""
    return METRICS.get(key) or Meaning(_guess_unit(key), _guess_better(key), device=_device(key))


def label(key: str) -> str:
    """The metric's short name without its unit (the unit is shown beside it): `latency_ms_p75`
    reads "latency p75", like its neighbours."""
    known = meaning(key).label
    if known:
        return known
    words = [_WORDS.get(w, w) for w in key.split("_") if w not in _UNIT_WORDS]
    return " ".join(words) or key


_UNIT_WORDS = {"ms", "bytes", "pct"}
_WORDS = {"coco": "COCO", "edgetpu": Device.EDGE_TPU.value}


def _device(key: str) -> Device | None:
    if "latency" not in key:
        return None
    return Device.EDGE_TPU if key.startswith("edgetpu_") else Device.HOST_CPU


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
