"""What a model costs on the Edge TPU, as its diagnostics page shows it: the parameter split, the
cycles and, per host link, the latency with its range and the part that dominates it.

Read from the analysis' `summary.estimate` (see docs/data-contracts.md), as report.load
keeps it. An estimate without the parameter split or a latency is left out rather than half
shown: the page then says nothing about the cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tpulens.analyzer.estimate import DEFAULT_LINK, LINKS, mib, part_label
from tpulens.report.labels import source_label


@dataclass(frozen=True)
class Part:
    label: str
    ms: float
    share: float  # of the device's latency


@dataclass(frozen=True)
class DeviceCost:
    link: str
    name: str  # "USB 3.0"
    host: str  # "a USB Accelerator on a USB 3.0 host"
    latency_ms: float
    range_ms: tuple[float, float] | None
    parts: list[Part]  # largest first

    @property
    def dominant(self) -> Part | None:
        return self.parts[0] if self.parts else None


@dataclass(frozen=True)
class Cost:
    source: str  # predicted, or compiler: whose parameter split and cycles
    on_chip_bytes: int
    off_chip_bytes: int
    cycles: int | None
    devices: list[DeviceCost]  # the default link first

    @property
    def source_sentence(self) -> str:
        return source_label(self.source).sentence

    @property
    def memory(self) -> str:
        """"3.7 MiB cached on-chip; 2.1 MiB streamed at every inference"."""
        streamed = (f"{self.streamed} streamed at every inference" if self.off_chip_bytes
                    else "none streamed (all fit on-chip)")
        return f"{mib(self.on_chip_bytes)} cached on-chip; {streamed}"


    @property
    def part_rows(self) -> list[tuple[str, list[Part | None]]]:
        """One row per part that costs time on some host: its label and its figure per device
        (None where it costs nothing), the largest on the first host first."""
        rows: dict[str, list[Part | None]] = {}
        for i, device in enumerate(self.devices):
            for part in device.parts:
                if part.ms > 0:
                    rows.setdefault(part.label, [None] * len(self.devices))[i] = part
        return sorted(rows.items(), key=lambda row: [-(p.ms if p else 0) for p in row[1]])

    @property
    def streamed(self) -> str:
        """The parameters streamed per inference, "none" when they all fit on-chip."""
        return mib(self.off_chip_bytes) if self.off_chip_bytes else "none"


def _number(value: object) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok and value >= 0 else None


def _range(value: object) -> tuple[float, float] | None:
    if not isinstance(value, list) or len(value) != 2:
        return None
    low, high = (_number(v) for v in value)
    return (low, high) if low is not None and high is not None and low <= high else None


def _parts(value: object, total: float) -> list[Part]:
    if not isinstance(value, dict):
        return []
    parts = [
        Part(part_label(key), ms, ms / total if total else 0.0)
        for key, raw in value.items()
        if (ms := _number(raw)) is not None
    ]
    return sorted(parts, key=lambda p: -p.ms)


def cost_of(summary: dict) -> Cost | None:
    """The cost in a raw analysis summary; None when there is none (no op maps to the Edge TPU)
    or it does not have the contract's shape."""
    estimate = summary.get("estimate")
    if not isinstance(estimate, dict):
        return None
    params = estimate.get("parameters")
    latency = estimate.get("latency_ms")
    if not isinstance(params, dict) or not isinstance(latency, dict):
        return None
    on_chip, off_chip = _number(params.get("on_chip_bytes")), _number(params.get("off_chip_bytes"))
    if on_chip is None or off_chip is None:
        return None
    ranges, parts = estimate.get("latency_range_ms") or {}, estimate.get("parts_ms") or {}
    devices = []
    for link in sorted(LINKS, key=lambda k: k != DEFAULT_LINK):
        ms = _number(latency.get(link))
        if ms is None:
            continue
        span = _range(ranges.get(link)) if isinstance(ranges, dict) else None
        split = _parts(parts.get(link), ms) if isinstance(parts, dict) else []
        devices.append(DeviceCost(link, LINKS[link].name, LINKS[link].host, ms, span, split))
    cycles = _number(estimate.get("cycles"))
    source = estimate.get("source")
    return Cost(
        source if isinstance(source, str) and source else "predicted",
        int(on_chip),
        int(off_chip),
        int(cycles) if cycles else None,
        devices,
    )


def model_costs(analyses: list, pages: list) -> dict[str, Cost | None]:
    """Each model page's Edge TPU cost (predicted, or read from the compiler's output), by its
    slug: `analyses` are the published analyses (report.load) in the order of their `pages`."""
    return {page.slug: cost_of(analysis.data["summary"])
            for analysis, page in zip(analyses, pages, strict=True)}
