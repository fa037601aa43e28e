"""Op graph benchmarks for `make bench`: Graphviz layout + SVG of one analysis against its size
(synthetic branching networks, then real models), and the bytes the graph adds to a page.

Wall time is what a build waits for; CPU time is split between Python (graph, partitions,
SVG) and the dot process, and does not move with the load of a shared machine.
"""

from __future__ import annotations

import gzip
import resource
import sys
import time
from pathlib import Path

from tpulens.analyzer.analyze import analyze_file
from tpulens.report.graph_layout import dot_binary
from tpulens.report.load import normalize_analysis
from tpulens.report.op_graph import op_graph

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # fixtures import by name
import sample_graphs  # noqa: E402

from bench.analyzer_bench import CORPUS, mediapipe_model  # noqa: E402

SIZES = (250, 500, 1000, 2000)
CORPUS_MODELS = (
    "pairs/EdgeTPU-MOT@03eb91d/server_script/yolov10n_saved_model/"
    "yolov10n_full_integer_quant.tflite",
    "pairs/MyYolov5@0667147/yolov5n-fp16.tflite",
)


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def measure(name: str, data: dict, repeat: int = 3) -> dict:
    """Best of `repeat` runs of op_graph (layout + SVG), with the CPU split of that run."""
    best = None
    for _ in range(repeat):
        own, dot = _cpu()
        start = time.perf_counter()
        graph = op_graph(data)
        wall = time.perf_counter() - start
        own_after, dot_after = _cpu()
        if best is None or wall < best[0]:
            best = (wall, own_after - own, dot_after - dot, graph)
    wall, own, dot, graph = best
    svg = graph.svg.encode()
    return {
        "benchmark": f"report.op_graph {name}",
        "value": round(wall, 3),
        "unit": "s",
        "detail": f"{graph.ops} ops, {graph.partitions} Edge TPU subgraphs; CPU python "
        f"{own:.2f} s + dot {dot:.2f} s; SVG {len(svg):,} B ({len(gzip.compress(svg)):,} B gzip)"
        + (f"; {graph.note}" if graph.note else ""),
    }


def run(sizes: tuple[int, ...] = SIZES) -> list[dict]:
    if dot_binary() is None:
        return [{"benchmark": "report.op_graph", "value": None, "unit": "s",
                 "detail": "Graphviz `dot` not installed: no graph to time"}]
    rows = []
    for n in sizes:
        data = normalize_analysis(sample_graphs.branching_analysis(f"b{n}.tflite", n))
        rows.append(measure(f"synthetic {n} ops", data, repeat=3 if n <= 1000 else 1))
    models = [CORPUS / rel for rel in CORPUS_MODELS if (CORPUS / rel).is_file()]
    extra = mediapipe_model()
    for path in models + ([extra] if extra else []):
        rows.append(measure(path.name, normalize_analysis(analyze_file(path))))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
