"""Partitioner speed on its worst case, a long chain of alternating CPU/TPU ops: the red team's
hostile files (../shared/redteam, when present, analysed whole) and synthetic chains of growing
length (epochs only). Time per op stays flat when the work is linear."""

from __future__ import annotations

import time
from pathlib import Path

from tpulens.analyzer import partition
from tpulens.analyzer.analyze import analyze_model, make_options
from tpulens.analyzer.model import Operator, Subgraph, read_model

ROOT = Path(__file__).resolve().parents[1]
REDTEAM = ROOT.parent / "shared" / "redteam"
FILES = ("chain_alt_2000.tflite", "chain_alt_5000.tflite", "chain_rev_5000.tflite")


def best(fn, repeat: int = 3) -> float:
    seconds = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        seconds = min(seconds, time.perf_counter() - start)
    return seconds


def chain(n: int) -> Subgraph:
    ops = [Operator(0, i, "RELU", None, 1, (i,), (i + 1,)) for i in range(n)]
    return Subgraph(0, "chain", [], ops, (0,), (n,))


def run() -> list[dict]:
    rows = []
    for name in FILES:
        path = REDTEAM / name
        if path.is_file():
            model = read_model(path)
            seconds = best(lambda m=model: analyze_model(m, make_options()))
            rows.append({"input": name, "ops": len(model.operators), "what": "analyze",
                         "s": round(seconds, 3),
                         "us/op": round(seconds * 1e6 / len(model.operators), 1)})
    for n in (5_000, 20_000, 80_000):
        sg = chain(n)
        kinds = [i % 2 == 0 for i in range(n)]
        seconds = best(lambda s=sg, k=kinds: partition.epochs(partition.dataflow(s), k))
        rows.append({"input": "alternating chain", "ops": n, "what": "epochs",
                     "s": round(seconds, 3), "us/op": round(seconds * 1e6 / n, 1)})
    return rows
