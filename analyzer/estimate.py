"""What a model costs on the Edge TPU: parameter memory, cycles and latency per device.

For a CPU model the cost follows the placement prediction: each Edge TPU subgraph's parameters
are laid out and split between on-chip cache and streaming (param_memory), its cycles come from
the chip model (cycles), and the latency per device adds the link and the host (latency). For a
compiled model the compiler's own parameter split and estimated cycles replace the first two.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from tpulens.analyzer import cycles, latency, param_memory, partition, rules
from tpulens.analyzer.model import Model, Subgraph, Tensor
from tpulens.analyzer.vocabulary import Placement, Source


class Segment(NamedTuple):
    """One Edge TPU subgraph: what it costs."""

    on_chip_bytes: int
    off_chip_bytes: int
    cycles: int | None  # None: a compiled model whose compiler wrote no estimate (16.0)
    instruction_bytes: int  # sent over the link at every inference with the input
    input_bytes: int
    output_bytes: int
    crossing_bytes: int  # of input and output: tensors exchanged with CPU ops


class Estimate(NamedTuple):
    """What a model costs: its Edge TPU subgraphs, and its latency on each device."""

    segments: tuple[Segment, ...]
    source: Source  # PREDICTED, or COMPILER when the figures are the compiler's own
    latency: dict[latency.Link, latency.Latency]

    @property
    def on_chip_bytes(self) -> int:
        return sum(s.on_chip_bytes for s in self.segments)

    @property
    def off_chip_bytes(self) -> int:
        return sum(s.off_chip_bytes for s in self.segments)

    @property
    def cycles(self) -> int | None:
        known = [s.cycles for s in self.segments]
        return None if None in known else sum(known)

    def to_json(self) -> dict:
        return {
            "parameters": {"on_chip_bytes": self.on_chip_bytes,
                           "off_chip_bytes": self.off_chip_bytes},
            "cycles": self.cycles,
            "latency_ms": {link.value: _ms(lat.total_ms) for link, lat in self.latency.items()},
            "latency_range_ms": {link.value: [_ms(lat.low_ms), _ms(lat.high_ms)]
                                 for link, lat in self.latency.items()},
            "parts_ms": {link.value: {part: _ms(ms) for part, ms in lat.parts_ms.items()}
                         for link, lat in self.latency.items()},
            "source": self.source,
        }


def predicted_json(analysis) -> dict | None:
    """`summary.estimate` of a CPU model's analysis (null when nothing runs on the Edge TPU)."""
    found = predict(analysis)
    return found.to_json() if found else None


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class _OpTables:
    """Per-op figures of a model's main subgraph that do not depend on the placement, each made
    on first use and shared by the estimates of an analysis and of its what-ifs (which differ
    in placement only)."""

    def __init__(self, model: Model):
        self.model = model
        self.main = model.subgraphs[0]
        self.flow = rules.flow_of(self.main)
        self.cycles: list[float | None] = [None] * len(self.main.operators)
        self.cpu: list[latency.CpuOp | None] = [None] * len(self.main.operators)
        self.laid_out: dict[param_memory.LayoutRules,
                            list[param_memory.OpParameters | None]] = {}

    def op_cycles(self, ops: list[int]) -> list[float]:
        known = self.cycles
        for i in ops:
            if known[i] is None:
                known[i] = cycles.op_cycles(self.main, self.main.operators[i])
        return [known[i] for i in ops]

    def cpu_ops(self, ops: list[int]) -> tuple[latency.CpuOp, ...]:
        missing = [i for i in ops if self.cpu[i] is None]
        for i, found in zip(missing, latency.cpu_cost(self.model, self.main, missing),
                            strict=True):
            self.cpu[i] = found
        return tuple(self.cpu[i] for i in ops)

    def blocks(self, layout: param_memory.LayoutRules,
               ops: list[int]) -> list[param_memory.OpParameters]:
        """Each op's parameter block under `layout`."""
        known = self.laid_out.setdefault(layout, [None] * len(self.main.operators))
        for i in ops:
            if known[i] is None:
                known[i] = param_memory.op_parameters(self.main, i, self.flow.producer, layout,
                                                      self.model)
        return [known[i] for i in ops]


_TABLES: dict[int, _OpTables] = {}  # by id(model); the entry keeps its model to check it
_TABLES_KEPT = 8


def _tables(model: Model) -> _OpTables:
    hit = _TABLES.get(id(model))
    if hit and hit.model is model:
        return hit
    tables = _OpTables(model)
    if len(_TABLES) >= _TABLES_KEPT:
        _TABLES.clear()
    _TABLES[id(model)] = tables
    return tables


def _boundary_bytes(subgraph: Subgraph, ops: list[int],
                    flow: partition.Dataflow) -> tuple[int, int, int]:
    """(bytes entering, bytes leaving, bytes of those exchanged with CPU ops) of a group of
    ops: activations only, constants excluded. What enters from the model's inputs or leaves
    to its outputs is model I/O; the rest crosses between an Edge TPU subgraph and CPU ops."""
    operators, tensors, feeds = subgraph.operators, subgraph.tensors, flow.feeds
    group = [operators[i] for i in ops]  # lists, not generators, feed the unions: quicker
    made = set().union(*[op.outputs for op in group])
    read = set().union(*[op.inputs for op in group])
    readers_outside = set().union(*[feeds[i] for i in ops]).difference(ops)
    read_outside = set().union(*[operators[j].inputs for j in readers_outside])
    outputs = set(subgraph.outputs)
    entering = {t for t in read - made if t >= 0 and not tensors[t].is_constant}
    leaving = made & (outputs | read_outside)
    size = {t: _nbytes(tensors[t]) for t in entering | leaving}
    crossing = size.keys() - outputs - set(subgraph.inputs)
    return tuple(sum(size[t] for t in group) for group in (entering, leaving, crossing))


def _nbytes(tensor: Tensor) -> int:
    return tensor.num_elements * latency.dtype_bytes(tensor.dtype)


def predict(analysis) -> Estimate | None:
    """The cost of a CPU model under its predicted placement; None when no op runs on the
    Edge TPU (the model is refused, or nothing maps), or when its shapes are too large for any
    figure to mean something (a damaged file: element counts past a float's range)."""
    try:
        return _predict(analysis)
    except OverflowError:
        return None


def _predict(analysis) -> Estimate | None:
    model: Model = analysis.model
    if analysis.errors or not model.subgraphs:
        return None
    main = model.subgraphs[0]
    placement: list[Placement | None] = [None] * len(main.operators)
    for v in analysis.verdicts:
        if v.subgraph == 0:
            placement[v.index] = v.placement
    tpu, dropped = Placement.TPU, Placement.DROPPED  # read once: enum members are slow to read
    on_tpu = [where == tpu for where in placement]
    if not any(on_tpu):
        return None
    tables = _tables(model)
    groups = param_memory.tpu_segments(main, on_tpu, tables.flow)
    if not groups:
        return None
    layout = param_memory.rules_for(analysis.options.compiler.version)
    parameters = param_memory.fill_cache(
        groups, [tables.blocks(layout, ops) for ops in groups],
        analysis.options.enable_multiple_subgraphs)
    segments = tuple(
        Segment(found.on_chip_bytes, found.off_chip_bytes,
                cycles.total_cycles(tables.op_cycles(ops)),
                latency.instruction_bytes(len(ops), 1),
                *_boundary_bytes(main, ops, tables.flow))
        for ops, found in zip(groups, parameters, strict=True))
    grouped = set().union(*groups)
    cpu_ops = [i for i, where in enumerate(placement)
               if where is not None and where != dropped and i not in grouped]
    return _priced(segments, tables.cpu_ops(cpu_ops), Source.PREDICTED)


def from_compiled(model: Model, custom_ops: list) -> Estimate | None:
    """The compiler's own figures in a compiled model (its `edgetpu-custom-op`s, as
    compiled.custom_ops reads them): the parameter split and estimated cycles of each Edge TPU
    subgraph (cycles unknown where the compiler wrote none, as 16.0 does); the ops left on the
    CPU beside them are priced by the host model."""
    try:
        return _from_compiled(model, custom_ops)
    except OverflowError:  # element counts past a float's range: a damaged file
        return None


def _from_compiled(model: Model, custom_ops: list) -> Estimate | None:
    items = [c for c in custom_ops if c.package and c.subgraph == 0]
    if not items:
        return None
    main = model.subgraphs[0]
    tables = _tables(model)
    on_tpu = {c.index for c in custom_ops if c.subgraph == 0}
    segments = []
    for item in items:
        on_chip, off_chip, estimated = param_memory.compiled_split(item.package)
        segments.append(Segment(on_chip, off_chip, estimated or None,
                                latency.package_instruction_bytes(item.package),
                                *_boundary_bytes(main, [item.index], tables.flow)))
    cpu_ops = tables.cpu_ops([op.index for op in main.operators if op.index not in on_tpu])
    return _priced(tuple(segments), cpu_ops, Source.COMPILER)


def _priced(segments: tuple[Segment, ...], cpu_cost: tuple[latency.CpuOp, ...],
            source: Source) -> Estimate:
    costs = [latency.SegmentCost(s.cycles, s.off_chip_bytes, s.input_bytes, s.output_bytes,
                                 s.instruction_bytes) for s in segments]
    crossing = sum(s.crossing_bytes for s in segments)
    prices = {link: latency.estimate(device, costs, cpu_cost, crossing)
              for link, device in latency.DEVICES.items()}
    return Estimate(segments, source, prices)


# ---- text --------------------------------------------------------------------------------

class LinkWords(NamedTuple):
    """How a host link is named wherever a latency is shown (the CLI, the site, metric labels)."""

    name: str  # "USB 3.0"
    host: str  # "a USB Accelerator on a USB 3.0 host": the setup behind the figure


LINKS: dict[latency.Link, LinkWords] = {
    latency.Link.USB3: LinkWords("USB 3.0", "a USB Accelerator on a USB 3.0 host"),
    latency.Link.USB2: LinkWords(
        "USB 2.0", "a USB Accelerator on USB 2.0 (a Raspberry Pi 3, the Dev Board Mini)"),
    latency.Link.PCIE: LinkWords(
        "PCIe", "an M.2 or Mini PCIe module, or the Dev Board (its Edge TPU is on PCIe)"),
}
DEFAULT_LINK = latency.Link.USB3  # shown first and explained: the most common Coral setup

# What each part of a latency (latency.latency_parts) is; a part not named here is shown by its
# key.
PART_LABELS = {
    "invoke": "invoke overhead",
    "edgetpu": "Edge TPU compute",
    "streamed_parameters": "parameters streamed over the link",
    "instructions": "instructions sent over the link",
    "input_output": "inputs and outputs over the link",
    "crossings": "tensors crossing between CPU and Edge TPU",
    "cpu_ops": "ops left on the CPU",
}
MIB = 1024 * 1024


def link_name(link: str) -> str:
    """The link's name ("USB 3.0" for usb3); an unknown link by its key."""
    words = LINKS.get(link)
    return words.name if words else link


def part_label(part: str) -> str:
    return PART_LABELS.get(part, part.replace("_", " "))


def mib(size: int) -> str:
    """A byte count as the CLI and the site show it ("6.02 MiB"): MiB from 1 MiB, KiB from
    1 KiB, else bytes ("0 B")."""
    if size < 1024:
        return f"{size} B"
    return f"{size / MIB:.2f} MiB" if size >= MIB else f"{size / 1024:.2f} KiB"


def text_lines(estimate: dict | None, device: str = DEFAULT_LINK) -> list[str]:
    """The estimate in three lines (four when parameters stream): memory, latency per device
    with `device` first, and what dominates it."""
    if not estimate:
        return ["Edge TPU cost: nothing runs on the Edge TPU (no estimate)"]
    params = estimate["parameters"]
    lines = [f"Parameter memory: {mib(params['on_chip_bytes'])} cached on-chip; "
             f"{mib(params['off_chip_bytes'])} streamed at every inference"]
    order = [device] + [d for d in estimate["latency_ms"] if d != device]
    shown = [f"{link_name(d)} "
             f"{_range(estimate, d) if d == device else ms_text(estimate['latency_ms'][d])}"
             + ("" if d == device else " ms") for d in order if estimate["latency_ms"].get(d)]
    kind = "from the compiler's cycles" if estimate.get("source") == Source.COMPILER \
        else "predicted"
    if not shown:
        lines.append("Edge TPU latency: unknown (the compiler wrote no cycle estimate)")
        return lines
    lines.append(f"Edge TPU latency ({kind}, warm cache): " + ", ".join(shown))
    parts = estimate["parts_ms"][device]
    top = latency.dominant_part(parts)
    total = estimate["latency_ms"][device]
    lines.append(f"Dominated by {part_label(top)}: {ms_text(parts[top])} of "
                 f"{ms_text(total)} ms on {link_name(device)}")
    streamed = parts.get("streamed_parameters", 0.0)
    if params["off_chip_bytes"] and streamed >= 0.1 * total:
        lines.append(f"Streams {mib(params['off_chip_bytes'])} per inference over "
                     f"{link_name(device)} "
                     f"({ms_text(streamed)} of {ms_text(total)} ms): "
                     f"parameters beyond the {mib(param_memory.ON_CHIP_CAPACITY_BYTES)} "
                     "on-chip cache cross the link every time; prune, cluster or narrow the "
                     "largest layers, or split the model over several Edge TPUs")
    return lines


def _range(estimate: dict, device: str) -> str:
    low, high = estimate["latency_range_ms"].get(device) or (None, None)
    value = estimate["latency_ms"][device]
    span = f" ({ms_text(low)}-{ms_text(high)})" if low is not None else ""
    return f"{ms_text(value)} ms{span}"


def ms_text(value: float) -> str:
    """Three significant figures without an exponent: 2.43, 29.9, 299, 4080."""
    if value <= 0:
        return "0"
    return f"{value:.{max(0, 2 - math.floor(math.log10(value)))}f}"
