"""The op dataflow graph of one analysis as an inline `<svg class="op-graph">`.

Ops are laid out in layers, inputs at the top (report/graph_layout.py), coloured by placement;
each Edge TPU subgraph is outlined, root-cause ops and low-confidence verdicts are marked, and
edges that cross between the Edge TPU and the CPU stand out. Every op is one
`<a href="#op-S-I" data-op="I">`, so a click lands on the op's table row even without script;
templates/assets/op-graph.js adds pan and zoom.

The partitions are recomputed from the placements with the analyzer's own partitioner, so an
outline holds exactly the ops TFLite hands to the Edge TPU as one delegate subgraph.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tpulens.analyzer import partition
from tpulens.analyzer.model import Operator, Subgraph
from tpulens.analyzer.vocabulary import Confidence, Placement
from tpulens.report.graph_layout import Cluster, Layout, LayoutUnavailable, Node, Rect, layered
from tpulens.report.labels import PLACEMENT_COLORS
from tpulens.report.op_groups import op_id, op_type, root_cause_counts

MAX_OPS = 3000  # beyond this dot's layout time grows too fast for a site build (make bench)
MAX_OUTLINES = 100  # dot's time grows with the number of clusters: 1,500 took seconds
NODE_HEIGHT = 22
CHAR_WIDTH = 6.2  # of the 10 px label font, generous so labels stay inside their box
MIN_WIDTH, MAX_WIDTH = 56, 180
MAX_LABEL = int((MAX_WIDTH - 14) / CHAR_WIDTH)
MAX_TITLE_NAMES, MAX_NAME = 4, 80
PLACEMENT_CLASSES = {Placement.TPU: "tpu", Placement.CPU: "cpu"}
STYLE = f"""\
svg.op-graph{{font:10px system-ui,sans-serif;background:#fff}}
.op-graph .part{{fill:#eef7ee;stroke:{PLACEMENT_COLORS[Placement.TPU]};stroke-width:1.5}}
.op-graph .sg{{fill:none;stroke:#9e9e9e;stroke-dasharray:6 4}}
.op-graph .frame-label{{fill:#424242;font-size:9px}}
.op-graph .edge{{fill:none;stroke:#90a4ae;marker-end:url(#op-graph-arrow)}}
.op-graph .cross{{stroke:#c62828;stroke-width:1.6}}
.op-graph .op rect{{stroke:#fff;stroke-width:1}}
.op-graph .tpu rect{{fill:{PLACEMENT_COLORS[Placement.TPU]}}}
.op-graph .cpu rect{{fill:{PLACEMENT_COLORS[Placement.CPU]}}}
.op-graph .other rect{{fill:#9e9e9e}}
.op-graph .op text{{text-anchor:middle;dominant-baseline:central;pointer-events:none}}
.op-graph .tpu text{{fill:#fff}}
.op-graph .rc rect{{stroke:#b71c1c;stroke-width:3}}
.op-graph .low rect{{stroke:#212121;stroke-width:1.5;stroke-dasharray:3 2}}
.op-graph .badge{{fill:#212121}}
.op-graph .rc .badge{{fill:#b71c1c}}
.op-graph .badge-text{{fill:#fff;font-weight:bold;font-size:9px}}
.op-graph .op.selected rect,.op-graph .op:focus rect{{stroke:#1565c0;stroke-width:3}}
"""
# Characters XML 1.0 forbids (and lone surrogates, which cannot be encoded): dropped from text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class OpGraph:
    svg: str  # "" when no graph is drawn
    note: str  # for the page: why there is no graph, or what it leaves out ("" if nothing)
    ops: int = 0
    partitions: int = 0


def text(value: object) -> str:
    """Any string from an analysis, safe as SVG/HTML text or attribute value."""
    return html.escape(_NOT_XML.sub("", str(value)), quote=True)


def _names(tensors: list[dict]) -> list[str]:
    return [t["name"] for t in tensors]


def as_subgraph(ops: Sequence[dict]) -> Subgraph:
    """The ops of one subgraph as the analyzer's model objects, tensors numbered by name (an
    empty name is no tensor), so the analyzer's partitioner can walk them. Op i is ops[i]."""
    ids: dict[str, int] = {}

    def tensors(names: list[str]) -> tuple[int, ...]:
        return tuple(ids.setdefault(n, len(ids)) if n else -1 for n in names)

    operators = [
        Operator(
            0,
            i,
            op["opcode"],
            None,
            1,
            tensors(_names(op["input_tensors"])),
            tensors(_names(op["output_tensors"])),
        )
        for i, op in enumerate(ops)
    ]
    return Subgraph(0, "", [], operators, (), ())


def dataflow_edges(subgraph: Subgraph) -> list[tuple[int, int]]:
    """(writer, reader) op pairs, once each, in reader order."""
    made = partition.producers(subgraph)
    edges = {
        (made[t], op.index): None
        for op in subgraph.operators
        for t in op.inputs
        if t in made and made[t] != op.index
    }
    return list(edges)


def tpu_partitions(subgraph: Subgraph, placements: Sequence[str]) -> list[list[int]]:
    """The Edge TPU ops grouped into the delegate subgraphs TFLite forms from these
    placements, in execution order. Ops that are neither TPU nor CPU (dropped) count as
    mappable, as the analyzer counts them, but are not part of any partition."""
    mappable = [p != Placement.CPU for p in placements]
    groups: dict[int, list[int]] = {}
    for i, epoch in enumerate(partition.epochs(partition.dataflow(subgraph), mappable)):
        if placements[i] == Placement.TPU:
            groups.setdefault(epoch, []).append(i)
    return [groups[e] for e in sorted(groups)]


@dataclass(frozen=True)
class GraphSpec:
    """What dot lays out: node n<i> is ops[i]; edges as (writer, reader) positions."""

    nodes: list[Node]
    edges: list[tuple[int, int]]
    frames: list[tuple[Cluster, int]]  # a box per subgraph (and its number), when several
    partitions: list[Cluster]

    @property
    def links(self) -> list[tuple[str, str]]:
        return [(f"n{a}", f"n{b}") for a, b in self.edges]

    @property
    def clusters(self) -> list[Cluster]:
        return [frame for frame, _ in self.frames] + self.partitions


def graph_spec(ops: list[dict]) -> GraphSpec:
    by_subgraph: dict[int, list[int]] = {}
    for position, op in enumerate(ops):
        by_subgraph.setdefault(op["subgraph"], []).append(position)
    spec = GraphSpec(
        [Node(f"n{p}", _width(op_type(op)), NODE_HEIGHT) for p, op in enumerate(ops)], [], [], []
    )
    for subgraph, positions in sorted(by_subgraph.items()):
        members = [ops[p] for p in positions]
        flow = as_subgraph(members)
        spec.edges.extend((positions[a], positions[b]) for a, b in dataflow_edges(flow))
        frame = None
        if len(by_subgraph) > 1:
            frame = f"g{len(spec.frames)}"
            spec.frames.append((Cluster(frame, tuple(f"n{p}" for p in positions)), subgraph))
        for part in tpu_partitions(flow, [op["placement"] for op in members]):
            ids = tuple(f"n{positions[i]}" for i in part)
            spec.partitions.append(Cluster(f"p{len(spec.partitions)}", ids, frame))
    return spec


def op_graph(data: dict, dot: str | None = None) -> OpGraph:
    """The graph of a normalized analysis (report.load.normalize_analysis)."""
    ops = data["ops"]
    if not ops:
        return OpGraph("", "No op graph: this analysis has no per-op rows.")
    if len(ops) > MAX_OPS:
        return OpGraph(
            "",
            f"No op graph: {len(ops):,} ops is more than the {MAX_OPS:,} a page draws; "
            "the table lists every op.",
            len(ops),
        )
    spec, note = graph_spec(ops), ""
    if len(spec.clusters) > MAX_OUTLINES:
        note = (
            f"{len(spec.clusters):,} outlines (Edge TPU subgraphs and subgraphs) are more than "
            f"the {MAX_OUTLINES} a graph draws: ops are coloured by placement, not outlined."
        )
        spec = replace(spec, frames=[], partitions=[])
    try:
        layout = layered(spec.nodes, spec.links, spec.clusters, dot)
    except LayoutUnavailable as why:
        return OpGraph("", f"No op graph: {why}.", len(ops))
    return OpGraph(render_svg(ops, layout, spec), note, len(ops), len(spec.partitions))


def _width(label: str) -> float:
    return max(MIN_WIDTH, min(MAX_WIDTH, round(len(label) * CHAR_WIDTH + 14)))


def _short(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _title(op: dict, pushed: int) -> str:
    lines = [f"#{op['index']} {op_type(op)}: {op['placement']}", op["status"]]
    if pushed:
        lines.append(f"root cause: {pushed} later ops left the Edge TPU")
    if op.get("confidence") == Confidence.LOW:
        reason = op.get("confidence_reason") or "no reason given"
        lines.append(f"low confidence: {reason}")
    for key, label in (("input_tensors", "in"), ("output_tensors", "out")):
        names = [_short(n, MAX_NAME) for n in _names(op[key]) if n]
        more = len(names) - MAX_TITLE_NAMES
        if names:
            shown = ", ".join(names[:MAX_TITLE_NAMES]) + (f" +{more} more" if more > 0 else "")
            lines.append(f"{label}: {shown}")
    return "\n".join(lines)


def render_svg(ops: list[dict], layout: Layout, spec: GraphSpec) -> str:
    partitions = spec.partitions
    causes = root_cause_counts(ops)
    placement = [PLACEMENT_CLASSES.get(op["placement"], "other") for op in ops]
    w, h = layout.width, layout.height
    out = [
        f'<svg class="op-graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:g} {h:g}" '
        f'width="{w:g}" height="{h:g}" data-width="{w:g}" data-height="{h:g}" role="group" '
        f'aria-label="Op graph: {len(ops)} ops, {len(partitions)} Edge TPU subgraphs">',
        f"<style>{STYLE}</style>",
        '<defs><marker id="op-graph-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" '
        'fill="#78909c"/></marker></defs>',
    ]
    for frame, subgraph in spec.frames:
        out.append(_frame("sg", layout.clusters[frame.id], f"subgraph {subgraph}"))
    for number, part in enumerate(partitions, 1):
        box = layout.clusters[part.id]
        label = f"Edge TPU subgraph {number}" if len(partitions) > 1 else "Edge TPU subgraph"
        out.append(_frame("part", box, f"{label} ({len(part.members)} ops)"))
    paths = {(e.tail, e.head): e.path for e in layout.edges}
    out.append('<g class="edges">')
    for a, b in spec.edges:
        cls = "edge" if placement[a] == placement[b] else "edge cross"
        out.append(f'<path class="{cls}" d="{paths[(f"n{a}", f"n{b}")]}"/>')
    out.append('</g><g class="ops">')
    for position, op in enumerate(ops):
        out.append(_node(op, layout.nodes[f"n{position}"], placement[position], causes))
    out.append("</g></svg>")
    return "\n".join(out)


def _frame(cls: str, box: Rect, label: str) -> str:
    return (
        f'<rect class="{cls}" x="{box.x:g}" y="{box.y:g}" width="{box.width:g}" '
        f'height="{box.height:g}" rx="4"><title>{text(label)}</title></rect>'
        f'<text class="frame-label" x="{box.x + 4:g}" y="{box.y + 10:g}">{text(label)}</text>'
    )


def _node(op: dict, box: Rect, placement: str, causes: dict[tuple, int]) -> str:
    subgraph, index = op["subgraph"], op["index"]
    pushed = causes.get((subgraph, index), 0)
    low = op.get("confidence") == Confidence.LOW
    cls = f"op {placement}" + (" rc" if pushed else "") + (" low" if low else "")
    badges = ""
    if pushed or low:
        cx, cy = box.x + box.width - 2, box.y + 2
        badges = (
            f'<circle class="badge" cx="{cx:g}" cy="{cy:g}" r="6"/>'
            f'<text class="badge-text" x="{cx:g}" y="{cy:g}">{"!" if pushed else "?"}</text>'
        )
    return (
        f'<a class="{cls}" href="#{text(op_id(subgraph, index))}" data-op="{text(index)}" '
        f'data-subgraph="{text(subgraph)}"><title>{text(_title(op, pushed))}</title>'
        f'<rect x="{box.x:g}" y="{box.y:g}" width="{box.width:g}" height="{box.height:g}" '
        f'rx="3"/><text x="{box.x + box.width / 2:g}" y="{box.y + box.height / 2:g}">'
        f"{text(_short(op_type(op), MAX_LABEL))}</text>{badges}</a>"
    )
