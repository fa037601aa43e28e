"""Layered layout of a directed graph by Graphviz `dot`, run at build time.

dot ranks nodes by network simplex (sources sit just above their first reader, so a model's
weight-dequantize ops do not pile up in the top row), keeps each cluster in its own box and
routes edges as splines. Of the layout libraries measured for this (igraph's Sugiyama layout
puts every source in the top row and knows no clusters; grandalf took seconds per 1,000 nodes),
only dot keeps an Edge TPU partition in one box. `make bench` times it.

Nodes have fixed sizes and no labels here, so the layout never depends on the fonts of the
machine that builds the site: the same input and the same Graphviz give the same layout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

POINTS_PER_INCH = 72
# The largest real graphs measured (make bench: 2,000 ops, 712-op models) take about 1 s; a
# crafted analysis can keep dot busy for minutes, so each graph and each build are capped and
# a page over its budget is drawn without a graph, saying why.
DOT_TIMEOUT_S = 4.0
DOT_TOTAL_S = 60.0
GRAPH_ATTRS = "rankdir=TB, nodesep=0.12, ranksep=0.22, newrank=true, nslimit=0.02"
NODE_ATTRS = 'shape=box, fixedsize=true, label=""'
EDGE_ATTRS = "arrowsize=0.6"
CLUSTER_ATTRS = "margin=16"  # room for the caller's label inside the top edge


class LayoutUnavailable(Exception):
    """dot is missing, failed or took too long: the caller draws no graph and says why."""


class DotBudget:
    """The seconds of dot one site build may still spend (reset by each build)."""

    left = DOT_TOTAL_S

    @classmethod
    def reset(cls, total: float = DOT_TOTAL_S) -> None:
        cls.left = total


@dataclass(frozen=True)
class Node:
    id: str  # [A-Za-z0-9_] only: it is written into the dot source as is
    width: float  # points
    height: float


@dataclass(frozen=True)
class Cluster:
    id: str  # [A-Za-z0-9_] only
    members: tuple[str, ...]  # node ids
    parent: str | None = None  # the id of the cluster it sits in


@dataclass(frozen=True)
class Rect:
    x: float  # left, points, y grows downwards
    y: float  # top
    width: float
    height: float


@dataclass(frozen=True)
class Edge:
    tail: str
    head: str
    path: str  # SVG path data from the tail's border to the head's border


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    nodes: dict[str, Rect]
    edges: list[Edge]
    clusters: dict[str, Rect]


def dot_binary() -> str | None:
    return shutil.which("dot")


def dot_source(
    nodes: Sequence[Node], edges: Sequence[tuple[str, str]], clusters: Sequence[Cluster] = ()
) -> str:
    """The graph in the dot language, nodes inside their innermost cluster."""
    placed = {m: c.id for c in clusters for m in c.members}
    children: dict[str | None, list[Cluster]] = {}
    for cluster in clusters:
        children.setdefault(cluster.parent, []).append(cluster)
    members: dict[str | None, list[Node]] = {}
    for node in nodes:
        members.setdefault(placed.get(node.id), []).append(node)

    def block(cluster_id: str | None, indent: str) -> list[str]:
        lines = [
            f"{indent}{n.id} [width={n.width / POINTS_PER_INCH:.4f}, "
            f"height={n.height / POINTS_PER_INCH:.4f}];"
            for n in members.get(cluster_id, [])
        ]
        for child in children.get(cluster_id, []):
            lines.append(f"{indent}subgraph cluster_{child.id} {{ graph [{CLUSTER_ATTRS}];")
            lines += block(child.id, indent + "  ")
            lines.append(f"{indent}}}")
        return lines

    return "\n".join(
        [
            "digraph G {",
            f"  graph [{GRAPH_ATTRS}];",
            f"  node [{NODE_ATTRS}];",
            f"  edge [{EDGE_ATTRS}];",
            *block(None, "  "),
            *(f"  {tail} -> {head};" for tail, head in edges),
            "}",
            "",
        ]
    )


def layered(
    nodes: Sequence[Node],
    edges: Sequence[tuple[str, str]],
    clusters: Sequence[Cluster] = (),
    dot: str | None = None,
) -> Layout:
    """Positions of every node, cluster box and edge path; raises LayoutUnavailable."""
    dot = dot or dot_binary()
    if dot is None:
        raise LayoutUnavailable("Graphviz `dot` is not installed")
    if DotBudget.left <= 0:
        raise LayoutUnavailable(
            f"this build has spent its {DOT_TOTAL_S:g} s of Graphviz layout on other pages")
    timeout = min(DOT_TIMEOUT_S, DotBudget.left)
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [dot, "-Tjson0"],
            input=dot_source(nodes, edges, clusters),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise LayoutUnavailable(f"Graphviz `dot` took more than {timeout:g} s") from None
    except OSError as err:
        raise LayoutUnavailable(f"Graphviz `dot` could not run: {err.strerror}") from None
    finally:
        DotBudget.left -= time.monotonic() - start
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[0]
        raise LayoutUnavailable(f"Graphviz `dot` failed: {why}")
    return parse_json0(json.loads(proc.stdout))


def parse_json0(graph: dict) -> Layout:
    """dot's `-Tjson0` output (y grows upwards, sizes in inches) as a top-down Layout."""
    height = float(graph["bb"].split(",")[3])

    def flip(point: str) -> tuple[float, float]:
        x, y = point.split(",")[:2]
        return round(float(x), 1), round(height - float(y), 1)

    nodes, clusters, names = {}, {}, {}
    for obj in graph.get("objects", []):
        if "pos" not in obj:  # a subgraph
            if obj["name"].startswith("cluster_") and "bb" in obj:
                x0, y0, x1, y1 = (float(v) for v in obj["bb"].split(","))
                clusters[obj["name"].removeprefix("cluster_")] = Rect(
                    round(x0, 1), round(height - y1, 1), round(x1 - x0, 1), round(y1 - y0, 1)
                )
            continue
        names[obj["_gvid"]] = obj["name"]
        cx, cy = flip(obj["pos"])
        w = float(obj["width"]) * POINTS_PER_INCH
        h = float(obj["height"]) * POINTS_PER_INCH
        nodes[obj["name"]] = Rect(round(cx - w / 2, 1), round(cy - h / 2, 1), w, h)
    edges = []
    for edge in graph.get("edges", []):
        tail, head = names[edge["tail"]], names[edge["head"]]
        path = _spline_path(edge.get("pos"), flip, nodes[tail], nodes[head])
        edges.append(Edge(tail, head, path))
    return Layout(float(graph["bb"].split(",")[2]), height, nodes, edges, clusters)


def _spline_path(pos: str | None, flip, tail: Rect, head: Rect) -> str:
    """dot's "e,x,y p0 p1 p2 p3 ..." (a cubic B-spline, then the arrow tip) as SVG path data."""
    if not pos:  # dot could not route it: a straight line between the centres
        return (
            f"M{tail.x + tail.width / 2:g},{tail.y + tail.height / 2:g}"
            f"L{head.x + head.width / 2:g},{head.y + head.height / 2:g}"
        )
    end, points = None, []
    for token in pos.split():
        if token.startswith("e,"):
            end = flip(token[2:])
        elif not token.startswith("s,"):
            points.append(flip(token))
    path = f"M{points[0][0]:g},{points[0][1]:g}"
    for i in range(1, len(points) - 2, 3):
        (x1, y1), (x2, y2), (x3, y3) = points[i : i + 3]
        path += f"C{x1:g},{y1:g} {x2:g},{y2:g} {x3:g},{y3:g}"
    if end is not None:
        path += f"L{end[0]:g},{end[1]:g}"
    return path
