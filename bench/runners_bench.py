"""`make bench` rows for the runners, three measurements:

- where a default-profile run's step time goes, by step kind and by experiment, read from the
  committed results (no run needed);
- what a worker pays once and per conversion, measured in a fresh worker-like process on a
  quick-profile model: the TensorFlow import, loading a saved Keras model, a first and a
  second float32 conversion (the first includes one-time tracing and converter setup), int8
  conversions calibrated on the quick and on the default profile's sample counts;
- the quick profile cold (empty cache) and cached, with its worker time by stage.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from tpulens.runners import pipeline, restore

REPO = Path(__file__).resolve().parents[1]
SUITE = REPO / "benchmarks.toml"
RESULTS = REPO / "results"
SKIP = ("analysis", "examples", "history", "models")
WORKER_MODEL = "mobilenet_quick"  # a quick-profile model of the suite


def run(profile: str = "quick", jobs: int = 2) -> list[dict]:
    """Rows of (benchmark, value, unit, detail)."""
    return committed_rows(RESULTS) + worker_rows() + suite_rows(profile, jobs)


def committed_steps(results: Path, profile: str = "default") -> tuple[dict, str]:
    """({(experiment, step kind, id): seconds}, where from). From results/steps.json when a run
    wrote it (one entry per step, by stage); else from the records of `profile`, by timing group,
    a step that several records share (a trained model, a dataset) counted once. A record's
    `train` time includes its fine-tuning (prune, cluster), so there a fine-tuned variant counts
    its base model's training again."""
    index = restore.read_index(results)["steps"]
    if index:
        return ({(step["label"].split("/")[0].split(":")[0], step["stage"], key):
                 step["seconds"] for key, step in index.items()}, "results/steps.json")
    steps = {}
    for path in sorted(results.glob("*/*.json")):
        if path.parent.name in SKIP:
            continue
        record = json.loads(path.read_text())
        if record.get("profile") != profile:
            continue
        for group, seconds in record.get("timings", {}).items():
            steps[record["experiment"], group, seconds] = seconds
    return steps, f"{profile}-profile records (train includes fine-tuning)"


def committed_rows(results: Path) -> list[dict]:
    steps, source = committed_steps(results)
    total = sum(steps.values()) or 1.0
    rows = [{"benchmark": "committed results: step time", "value": round(total, 1),
             "unit": "s", "detail": f"{len(steps)} steps from {source}; summed worker "
             "seconds (2 workers: wall ≈ half when both stay busy)"}]
    for label, key in (("kind", 1), ("experiment", 0)):
        sums, counts, slowest = defaultdict(float), defaultdict(int), defaultdict(float)
        for name, seconds in steps.items():
            sums[name[key]] += seconds
            counts[name[key]] += 1
            slowest[name[key]] = max(slowest[name[key]], seconds)
        for name, seconds in sorted(sums.items(), key=lambda kv: -kv[1]):
            rows.append({"benchmark": f"  {label} {name}", "value": round(seconds, 1),
                         "unit": "s", "detail": f"{100 * seconds / total:.0f} %, "
                         f"{counts[name]} steps, slowest {slowest[name]:.1f} s"})
    return rows


def worker_costs(model_name: str = WORKER_MODEL) -> dict:
    """Seconds of each one-time and per-conversion cost, in this process (run it fresh)."""
    import numpy as np

    from tpulens.runners import config, datasets, models, tfsetup
    from tpulens.runners.stages import convert
    from tpulens.runners.stages import keras_utils as ku

    suite = config.load(SUITE)
    spec = dict(suite.data["models"][model_name])
    spec.setdefault("input_size", 28)
    tfsetup.configure(max(1, (os.cpu_count() or 1) // 2))
    times = {}
    start = time.perf_counter()
    tf = tfsetup.import_tf()
    times["TensorFlow import"] = time.perf_counter() - start
    size = spec["input_size"]
    model = models.build(spec, (size, size, 1), 10, 0)
    with tempfile.TemporaryDirectory() as tmp:
        saved = ku.save(model, Path(tmp))
        start = time.perf_counter()
        model = ku.load(saved)
        times["load a saved Keras model"] = time.perf_counter() - start
    x = np.random.default_rng(0).random((200, size, size, 1), dtype="float32")
    for name, method, samples in (("float32 conversion, first", "float32", 0),
                                  ("float32 conversion, second", "float32", 0),
                                  ("int8 conversion, 16 calibration samples", "int8", 16),
                                  ("int8 conversion, 100 calibration samples", "int8", 100)):
        start = time.perf_counter()
        convert.convert(tf, model, method, "uint8", datasets.representative(x, samples or 1))
        times[name] = time.perf_counter() - start
    times["params"] = model.count_params()
    return times


def worker_rows(model_name: str = WORKER_MODEL) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "bench.runners_bench", "worker", model_name],
                         capture_output=True, text=True, cwd=REPO, check=True).stdout
    times = json.loads(out.strip().splitlines()[-1])
    params = times.pop("params")
    return [{"benchmark": f"worker: {name}", "value": round(seconds, 2), "unit": "s",
             "detail": f"{model_name} ({params} params), fresh process, load average "
                       f"{os.getloadavg()[0]:.2f}"} for name, seconds in times.items()]


def suite_rows(profile: str = "quick", jobs: int = 2) -> list[dict]:
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
        rows.append({"benchmark": f"  stage {stage}", "value": round(seconds, 2), "unit": "s",
                     "detail": f"{100 * seconds / total:.0f} % of worker time (cold run)"})
    if cold.failed:
        rows.append({"benchmark": "failed variants", "value": len(cold.failed), "unit": "",
                     "detail": ", ".join(name for name, _ in cold.failed)})
    return rows


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:
    print(json.dumps(worker_costs(*sys.argv[2:3])))
