"""`make bench` rows for the runners, three measurements:

- where a default-profile run's step time goes, by stage (train, optimize, convert, compile,
  evaluate, the detection steps) and by experiment, wall and CPU seconds, read from a run's
  steps.json (the committed results, or `$TPULENS_BENCH_RESULTS`: any run's results
  directory), no run needed;
- what a worker pays once and per step, measured in a fresh worker-like process on a
  quick-profile model: the TensorFlow import, the dataset read and fitted and then kept, graph
  tracing (a first training batch against a second), loading a saved Keras model, a conversion
  through the Keras SavedModel export against one through the serving signature only, int8
  calibration on the quick and on the default profile's sample counts, and the thread budget;
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
    return step_rows(results_dir()) + worker_rows() + suite_rows(profile, jobs)


def results_dir() -> Path:
    """The results whose steps.json the table reads: the committed ones unless
    $TPULENS_BENCH_RESULTS names another run's results directory."""
    return Path(os.environ.get("TPULENS_BENCH_RESULTS") or RESULTS)


def run_steps(results: Path, profile: str = "default") -> tuple[dict, str]:
    """({(experiment, stage, id): (seconds, CPU seconds or None)}, where from). From the
    run's steps.json when it wrote one (one entry per step); else from the records of
    `profile`, by timing group, a step that several records share (a trained model, a dataset)
    counted once. A record's `train` time includes its fine-tuning (prune, cluster), so there a
    fine-tuned variant counts its base model's training again."""
    index = restore.read_index(results)["steps"]
    if index:
        return ({(step["label"].split("/")[0].split(":")[0], step["stage"], key):
                 (step["seconds"] or 0.0, step.get("cpu_seconds") or None)
                 for key, step in index.items()}, f"{results.name}/steps.json")
    steps = {}
    for path in sorted(results.glob("*/*.json")):
        if path.parent.name in SKIP:
            continue
        record = json.loads(path.read_text())
        if record.get("profile") != profile:
            continue
        for group, seconds in record.get("timings", {}).items():
            steps[record["experiment"], group, seconds] = (seconds, None)
    return steps, f"{profile}-profile records (train includes fine-tuning)"


def step_rows(results: Path) -> list[dict]:
    steps, source = run_steps(results)
    total = sum(wall for wall, _ in steps.values()) or 1.0
    cpu_total = sum(cpu or 0.0 for _, cpu in steps.values())
    rows = [{"benchmark": "run's steps: time", "value": round(total, 1), "unit": "s",
             "cpu_s": round(cpu_total, 1) if cpu_total else None,
             "detail": f"{len(steps)} steps from {source}; summed worker seconds (2 workers: "
                       "wall ≈ half when both stay busy; CPU-s is what an idle machine must do)"}]
    for label, key in (("stage", 1), ("experiment", 0)):
        sums, cpus, counts, slowest = (defaultdict(float), defaultdict(float), defaultdict(int),
                                       defaultdict(float))
        for name, (seconds, cpu) in steps.items():
            sums[name[key]] += seconds
            cpus[name[key]] += cpu or 0.0
            counts[name[key]] += 1
            slowest[name[key]] = max(slowest[name[key]], seconds)
        for name, seconds in sorted(sums.items(), key=lambda kv: -kv[1]):
            rows.append({"benchmark": f"  {label} {name}", "value": round(seconds, 1),
                         "unit": "s", "cpu_s": round(cpus[name], 1) if cpus[name] else None,
                         "detail": f"{100 * seconds / total:.0f} % of step time"
                                   + (f", {100 * cpus[name] / cpu_total:.0f} % of CPU"
                                      if cpu_total else "")
                                   + f", {counts[name]} steps, slowest {slowest[name]:.1f} s"})
    return rows


def worker_costs(model_name: str = WORKER_MODEL) -> dict:
    """CPU seconds of each one-time and per-step cost, in this process (run it fresh)."""

    from tpulens.runners import config, datasets, models, plan, tfsetup
    from tpulens.runners.stages import convert
    from tpulens.runners.stages import keras_utils as ku

    suite = config.load(SUITE)
    spec = dict(suite.data["models"][model_name])
    spec.setdefault("input_size", 28)
    size = spec["input_size"]
    threads = max(1, (os.cpu_count() or 1) // 2)
    tfsetup.configure(threads)
    times = {}

    def timed(name, call):
        start = time.process_time()
        result = call()
        times[name] = time.process_time() - start
        return result

    tf = timed("TensorFlow import (once per worker)", tfsetup.import_tf)
    table = plan.resolve_dataset(suite, "fashion_mnist", suite.profile("default"))
    data = timed("dataset read and fitted (first step of a worker)",
                 lambda: datasets.prepared(table, size))
    timed("dataset kept (later steps at that size)", lambda: datasets.prepared(table, size))
    model = models.build(spec, (size, size, 1), 10, 0)
    ku.compile_classifier(model, 1e-3)
    x, y = data.x_train[:64], data.y_train[:64]
    timed("first training batch (traces the train step)",
          lambda: model.fit(x, y, batch_size=64, verbose=0))
    timed("second training batch", lambda: model.fit(x, y, batch_size=64, verbose=0))
    with tempfile.TemporaryDirectory() as tmp:
        saved = ku.save(model, Path(tmp))
        model = timed("load a saved Keras model", lambda: ku.load(saved))
    samples = datasets.representative(data.x_train, 1)
    timed("float32 conversion via the Keras SavedModel export",
          lambda: keras_export_conversion(tf, model))
    timed("float32 conversion via the serving signature (the convert stage)",
          lambda: convert.convert(tf, model, "float32", "float", samples))
    for profile in ("quick", "default"):
        count = suite.profile(profile)["calibration_samples"]
        samples = datasets.representative(data.x_train, count)
        timed(f"int8 conversion, {count} calibration samples ({profile})",
              lambda s=samples: convert.convert(tf, model, "int8", "uint8", s))
    times["params"] = model.count_params()
    times["threads"] = threads
    return times


def keras_export_conversion(tf, model) -> bytes:
    """A conversion handed the Keras model itself (the converter then saves every layer's
    functions too): the cost the convert stage avoids."""
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def worker_rows(model_name: str = WORKER_MODEL) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "bench.runners_bench", "worker", model_name],
                         capture_output=True, text=True, cwd=REPO, check=True).stdout
    times = json.loads(out.strip().splitlines()[-1])
    params, threads = times.pop("params"), times.pop("threads")
    detail = (f"{model_name} ({params} params), fresh process, CPU time, load average "
              f"{os.getloadavg()[0]:.2f}")
    rows = [{"benchmark": f"worker: {name}", "value": round(seconds, 2), "unit": "CPU-s",
             "detail": detail} for name, seconds in times.items()]
    rows.append({"benchmark": "worker: threads (TF intra-op, LiteRT)", "value": threads,
                 "unit": "", "detail": f"{os.cpu_count()} CPUs / 2 workers; inter-op 1, so "
                                       "two workers never oversubscribe the cores"})
    return rows


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
