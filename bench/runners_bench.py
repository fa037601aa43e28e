"""`make bench` rows for the runners: the quick profile cold (empty cache) and cached, and
where the cold run's worker time went, stage by stage."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tpulens.runners import pipeline

SUITE = Path(__file__).resolve().parents[1] / "benchmarks.toml"


def run(profile: str = "quick", jobs: int = 2) -> list[dict]:
    """Rows of (benchmark, value, unit, detail)."""
    with tempfile.TemporaryDirectory(prefix="tpulens-bench-") as tmp:
        suite = Path(tmp) / "benchmarks.toml"
        shutil.copyfile(SUITE, suite)
        cold = pipeline.run_suite(suite, profile, jobs=jobs, progress=False)
        cached = pipeline.run_suite(suite, profile, jobs=jobs, progress=False)
    load = f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, -j {jobs}"
    rows = [
        {"benchmark": f"{profile} suite, cold", "value": cold.seconds, "unit": "s",
         "detail": f"{cold.variants} variants, {cold.steps_run} steps run; {load}"},
        {"benchmark": f"{profile} suite, cold, CPU time in steps", "value": cold.cpu_seconds,
         "unit": "CPU-s", "detail": "load-independent work; / jobs ≈ wall time when idle"},
        {"benchmark": f"{profile} suite, cached", "value": cached.seconds, "unit": "s",
         "detail": f"{cached.up_to_date} variants up to date, {cached.steps_run} steps run"},
    ]
    total = sum(cold.stage_seconds.values()) or 1.0
    for stage, seconds in sorted(cold.stage_seconds.items(), key=lambda kv: -kv[1]):
        rows.append({"benchmark": f"stage {stage}", "value": round(seconds, 2), "unit": "s",
                     "detail": f"{100 * seconds / total:.0f} % of worker time (cold run)"})
    if cold.failed:
        rows.append({"benchmark": "failed variants", "value": len(cold.failed), "unit": "",
                     "detail": ", ".join(name for name, _ in cold.failed)})
    return rows
