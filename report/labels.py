"""How the site shows the shared vocabulary, defined once: the colour of each placement (charts,
Model Explorer node data and the stylesheet's variables) and the badge, legend and sentence of
each source of a number."""

from __future__ import annotations

from dataclasses import dataclass

from tpulens.analyzer.vocabulary import Placement, Source

PLACEMENT_COLORS = {Placement.TPU: "#2e7d32", Placement.CPU: "#ef6c00"}


@dataclass(frozen=True)
class SourceLabel:
    badge: str  # the letter beside every number
    legend: str  # what the letter stands for, in the footer and table captions
    sentence: str  # where exactly the figure comes from (tooltips, model pages)


SOURCE_LABELS = {
    Source.MEASURED: SourceLabel("m", "measured", "measured on this machine"),
    Source.PREDICTED: SourceLabel(
        "p",
        "predicted by the analyzer",
        "predicted by the tpulens analyzer (no edgetpu_compiler run)",
    ),
    Source.COMPILER: SourceLabel(
        "c",
        "real compiler output",
        "real edgetpu_compiler output (read from the compiled *_edgetpu.tflite)",
    ),
    Source.LOG: SourceLabel(
        "l", "compiler log", "parsed from a real edgetpu_compiler log (per-operator counts)"
    ),
}
UNRECORDED = SourceLabel("?", "source not recorded", "source not recorded")


def source_label(source: str) -> SourceLabel:
    return SOURCE_LABELS.get(source, UNRECORDED)


def provenance(source: str, environment: dict) -> str:
    """One sentence saying where a number comes from, shown as the cell's tooltip; a measured
    number names the machine it was measured on."""
    if source != Source.MEASURED:
        return source_label(source).sentence
    cpu = environment.get("cpu") or "an unrecorded CPU"
    machine = environment.get("machine") or "?"
    threads = environment.get("threads")
    return f"measured on {cpu} ({machine}" + (f", {threads} threads)" if threads else ")")


def badge_legend() -> str:
    """'m measured, p predicted by the analyzer, …' for table captions."""
    return ", ".join(f"{label.badge} {label.legend}" for label in SOURCE_LABELS.values())
