"""What the Edge TPU cost estimate adds to `tpulens analyze`: the analysis (with its what-ifs
and the JSON) timed with and without the estimate, in turns, next to the whole command a user
runs."""

from __future__ import annotations

import time
from pathlib import Path

from bench.analyzer_bench import ROOT, models, process
from tpulens.analyzer import estimate
from tpulens.analyzer.analyze import analyze_model, make_options, to_json
from tpulens.analyzer.model import read_model


def _analyze(path: Path) -> None:
    to_json(analyze_model(read_model(path), make_options()))


def row(path: Path, repeat: int = 20) -> dict:
    """Best CPU time of each side, the two sides taking turns so that load hits both alike."""
    real, best = estimate.predict, {False: float("inf"), True: float("inf")}
    try:
        for _ in range(repeat):
            for on in (False, True):
                estimate.predict = real if on else (lambda analysis: None)
                start = time.process_time()
                _analyze(path)
                best[on] = min(best[on], time.process_time() - start)
    finally:
        estimate.predict = real
    added = best[True] - best[False]
    command_s, _ = process([str(ROOT / ".venv" / "bin" / "tpulens"), "analyze", str(path)])
    return {"model": path.name, "ops": len(read_model(path).operators),
            "analyze ms": round(best[False] * 1e3, 1), "estimate adds ms": round(added * 1e3, 1),
            "of analyze %": round(100 * added / best[False], 1),
            "command ms": round(command_s * 1e3), "of the command %": round(
                100 * added / command_s, 1), "target %": 10}


def run() -> list[dict]:
    return [row(path) for path in models()]
