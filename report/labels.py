"""How the site shows the shared vocabulary, defined once: the colour of each placement (charts,
Model Explorer node data and the stylesheet's variables), the badge, legend and sentence of
each source of a number, and where a figure was measured (a latency names its device)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tpulens.analyzer.vocabulary import Placement, Source
from tpulens.metrics import Device, meaning

PLACEMENT_COLORS = {
    Placement.TPU: "#2e7d32",
    Placement.CPU: "#ef6c00",
    Placement.DROPPED: "#9e9e9e",
}


@dataclass(frozen=True)
class SourceLabel:
    badge: str  # the letter beside every number
    legend: str  # what the letter stands for, in the footer and table captions
    sentence: str  # where exactly the figure comes from (tooltips, model pages)
    word: str  # beside an Edge TPU placement figure: "predicted" or "compiler"


SOURCE_LABELS = {
    Source.MEASURED: SourceLabel("m", "measured", "measured on this machine", "measured"),
    Source.PREDICTED: SourceLabel(
        "p",
        "predicted by the analyzer",
        "predicted by the tpulens analyzer (no edgetpu_compiler run)",
        "predicted",
    ),
    Source.COMPILER: SourceLabel(
        "c",
        "real compiler output",
        "real edgetpu_compiler output (read from the compiled *_edgetpu.tflite)",
        "compiler",
    ),
    Source.LOG: SourceLabel(
        "l",
        "compiler log",
        "parsed from a real edgetpu_compiler log (per-operator counts)",
        "compiler log",
    ),
}
UNRECORDED = SourceLabel("?", "source not recorded", "source not recorded", "source not recorded")


def source_label(source: str) -> SourceLabel:
    return SOURCE_LABELS.get(source, UNRECORDED)


def _threads(environment: dict) -> str:
    threads = environment.get("threads")
    if type(threads) is not int:
        return "threads not recorded"
    return f"{threads} thread" + ("" if threads == 1 else "s")


def _runtime(description: str) -> str:
    """Who ran a host-CPU timing: LiteRT for a .tflite, TensorFlow for a Keras model (its
    metric description says so)."""
    return "TensorFlow" if "tensorflow" in description.lower() else "LiteRT"


def measured_on(key: str, environment: dict, description: str = "") -> str:
    """Where a timing was measured, from the record's environment and the metric's description:
    "host CPU, LiteRT, 1 thread" or "Edge TPU"; "" for a metric that is not a timing."""
    device = meaning(key).device
    if device is None:
        return ""
    if device == Device.EDGE_TPU:
        return str(device)
    return f"{device}, {_runtime(description)}, {_threads(environment)}"


def where(key: str, source: str, environment: dict, description: str = "") -> str:
    """What a figure's label says besides its name: where a timing was measured, or who placed
    the ops of an Edge TPU figure ("predicted", "compiler"); "" when neither applies."""
    if on := measured_on(key, environment, description):
        said = source_label(source).word if source and source != Source.MEASURED else ""
        return f"{on}, {said}" if said else on  # "Edge TPU, predicted": never run on one
    if meaning(key).source != Source.MEASURED:
        return source_label(source).word
    return ""


def joined_wheres(wheres: Iterable[str]) -> str:
    """The `where` of several figures of one metric said once; where they differ in one part
    only, that part lists its values: "host CPU, LiteRT / TensorFlow, 1 thread"."""
    found = set(wheres) - {""}
    split = [w.split(", ") for w in sorted(found)]
    if len({len(parts) for parts in split}) > 1:
        return " / ".join(sorted(found))
    return ", ".join(" / ".join(dict.fromkeys(column)) for column in zip(*split, strict=True))


def provenance(source: str, environment: dict, key: str = "", description: str = "") -> str:
    """One sentence saying where a number comes from, shown as the cell's tooltip; a measured
    number names the machine it was measured on, a timing (given its `key`) the device."""
    if source != Source.MEASURED:
        if key and meaning(key).device == Device.EDGE_TPU:  # what the predicted time includes
            return f"predicted, not measured: {description or meaning(key).description}"
        return source_label(source).sentence
    cpu = environment.get("cpu") or "an unrecorded CPU"
    machine = environment.get("machine") or "?"
    device = meaning(key).device if key else None
    if device == Device.EDGE_TPU:
        runtime = environment.get("edgetpu_runtime") or "runtime not recorded"
        return f"measured on the Edge TPU ({runtime}) attached to {cpu} ({machine})"
    if device == Device.HOST_CPU:
        runtime = _runtime(description)
        return (
            f"measured on the host CPU, {cpu} ({machine}), with {runtime}, {_threads(environment)}"
        )
    return f"measured on {cpu} ({machine}, {_threads(environment)})"


def badge_legend() -> str:
    """'m measured, p predicted by the analyzer, …' for table captions."""
    return ", ".join(f"{label.badge} {label.legend}" for label in SOURCE_LABELS.values())
