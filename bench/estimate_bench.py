"""What the Edge TPU cost estimate adds to `tpulens analyze`: its time in-process next to the
analysis it follows, and next to the whole command a user runs."""

from __future__ import annotations

import time
from pathlib import Path

from bench.analyzer_bench import ROOT, models, process
from tpulens.analyzer import estimate
from tpulens.analyzer.analyze import analyze_model, make_options
from tpulens.analyzer.model import read_model


def _best(work, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def row(path: Path, repeat: int = 20) -> dict:
    model = read_model(path)
    analysis = analyze_model(model, make_options())
    analyze_s = _best(lambda: analyze_model(read_model(path), make_options()), repeat)
    estimate_s = _best(lambda: estimate.predict(analysis), repeat)
    command_s, _ = process([str(ROOT / ".venv" / "bin" / "tpulens"), "analyze", str(path)])
    return {"model": path.name, "ops": len(model.operators),
            "analyze ms": round(analyze_s * 1e3, 2), "estimate ms": round(estimate_s * 1e3, 2),
            "of analyze %": round(100 * estimate_s / analyze_s, 1),
            "of the command %": round(100 * estimate_s / command_s, 1), "target %": 10}


def run() -> list[dict]:
    return [row(path) for path in models()]
