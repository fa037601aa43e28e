"""Result records (`results/<experiment>/<variant>.json`) assembled from step manifests, and
written both as each variant's latest record and into the run's folder of the history
(tpulens.history.store describes the layout).

The objective score of the quantization study (Akhmetzyanov et al., 2020) is the sum of the
relative changes against the float baseline, to be minimised:

    objective = Δsize/size₀ + Δlatency/latency₀ − Δaccuracy/accuracy₀

Size and latency count as they are (smaller is better). Accuracy enters with a minus sign so that
an accuracy *loss* raises the score: that is the table's meaning (lower = better trade-off).
Their printed rows for float16 (−0.50), int8 (19.31) and int8 with integer input (19.44)
reproduce exactly with this formula; their dynamic-range row (0.21) is what one gets by adding
the accuracy change with a plus sign, which would reward losing accuracy, so we do not.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from tpulens.analyzer.vocabulary import RecordStatus
from tpulens.history import settings as history_settings
from tpulens.history import store
from tpulens.metrics import metric_info
from tpulens.runners.cache import atomic_write_bytes, atomic_write_json
from tpulens.runners.environment import git_commit, git_dirty

SCHEMA_VERSION = 1

STAGE_TIMING = {"train": "train", "optimize": "train", "convert": "compress",
                "extract": "extract", "fetch": "fetch", "compile": "compile",
                "evaluate": "evaluate", "detection_dataset": "dataset",
                "detection_train": "train", "detection_export": "compress",
                "detection_evaluate": "evaluate"}


def objective(metrics: dict, baseline: dict) -> float | None:
    """The study's score; None when a needed number is missing or zero in the baseline."""
    pairs = [("size_bytes", 1.0), ("latency_ms_p50", 1.0), ("accuracy", -1.0)]
    total = 0.0
    for name, sign in pairs:
        if metrics.get(name) is None or not baseline.get(name):
            return None
        total += sign * (metrics[name] - baseline[name]) / baseline[name]
    return round(total, 4)


def assemble(variant, steps: dict, failures: dict, baseline_metrics: dict | None,
             results_dir: Path, git_commit: str | None, fallback_environment: dict,
             profile: str) -> dict:
    """One record from the variant's step manifests (`steps`: role → manifest) and failures
    (`failures`: role → (status, note))."""
    metrics, overrides, notes, timings, artifacts, samples = {}, {}, [], {}, {}, {}
    environment = fallback_environment
    for manifest in steps.values():
        metrics.update(manifest["metrics"])
        samples.update(manifest.get("info", {}).get("samples", {}))
        overrides.update(manifest.get("metric_info", {}))
        notes.extend(manifest.get("notes", []))
        stage = STAGE_TIMING[manifest["stage"]]
        timings[stage] = round(timings.get(stage, 0.0) + manifest["seconds"], 3)
        if manifest.get("info", {}).get("environment"):
            environment = manifest["info"]["environment"]
    convert = steps.get("convert")
    if convert and convert["outputs"].get("tflite"):
        artifacts["tflite"] = _keep_model(Path(convert["outputs"]["tflite"]), results_dir,
                                          f"{variant.experiment}-{variant.variant}")
    compile_step = steps.get("compile")
    if compile_step and compile_step["outputs"].get("analysis"):
        name = f"{variant.experiment}-{variant.variant}.json"
        dest = results_dir / "analysis" / name
        if compile_step["outputs"].get("compiled_tflite"):
            artifacts["compiled_tflite"] = _keep_model(
                Path(compile_step["outputs"]["compiled_tflite"]), results_dir,
                f"{variant.experiment}-{variant.variant}_edgetpu")
        paths = {"model": artifacts.get("tflite"), "cpu_model": artifacts.get("tflite"),
                 "compiled_model": artifacts.get("compiled_tflite")}
        _copy_json(Path(compile_step["outputs"]["analysis"]), dest, paths)
        artifacts["analysis"] = f"analysis/{name}"
        for extra in ("comparison", "compiled_analysis", "compiler_log"):
            if compile_step["outputs"].get(extra):
                src = Path(compile_step["outputs"][extra])
                dest = results_dir / "analysis" / f"{variant.experiment}-{variant.variant}" \
                    f".{extra}{src.suffix}"
                if src.suffix == ".json":
                    _copy_json(src, dest, paths)
                else:
                    atomic_write_bytes(dest, src.read_bytes())
                artifacts[extra] = f"analysis/{dest.name}"
    evaluate = steps.get("evaluate")
    if evaluate and evaluate["outputs"].get("examples"):
        artifacts["examples"] = _copy_examples(Path(evaluate["outputs"]["examples"]),
                                               results_dir, variant)
    if baseline_metrics is not None:
        score = objective(metrics, baseline_metrics)
        if score is not None:
            metrics["objective"] = score
    status = RecordStatus.OK
    for role, (state, note) in failures.items():
        failed = RecordStatus.FAILED in (state, status)
        status = RecordStatus.FAILED if failed else RecordStatus(state)
        notes.append(f"{role}: {note}")
    return {
        "schema_version": SCHEMA_VERSION,
        "experiment": variant.experiment, "variant": variant.variant,
        "kind": variant.kind, "profile": profile, "status": status,
        "record_key": variant.record_key,
        "params": variant.params, "metrics": metrics,
        "metric_info": metric_info(metrics, overrides),
        "artifacts": artifacts, "timings": timings, "environment": environment,
        "git_commit": git_commit,
        "created": datetime.now(UTC).strftime(store.TIME_FORMAT),
        "notes": notes,
        **({"samples": samples} if samples else {}),
    }


def record_path(results_dir: Path, experiment: str, variant: str) -> Path:
    return results_dir / experiment / f"{variant}.json"


def read_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def start_run(results_dir: Path, repo_dir: Path, profile: str) -> store.Run:
    """A new run (its folder appears with its first record). Records written before history
    existed are first kept in history as the runs they came from."""
    archive_legacy(results_dir)
    run = store.new_run(datetime.now(UTC), git_commit(repo_dir),
                        git_dirty(repo_dir, results_dir), platform.node() or None, profile)
    base, n = run.id, 1
    while store.run_dir(results_dir, run.id).exists():  # two runs within one second
        n += 1
        run = replace(run, id=f"{base}-{n}")
    return run


def finish_run(results_dir: Path, suite_data: dict) -> None:
    """Drop the runs beyond the suite's retention (`[history] keep_runs` per variant)."""
    store.prune(results_dir, history_settings.from_suite(suite_data).keep_runs)


def write_record(results_dir: Path, record: dict, run: store.Run) -> Path:
    """The record becomes the variant's latest and is kept, with its artifacts, in its run."""
    record = {**record, "run": run.id}
    path = record_path(results_dir, record["experiment"], record["variant"])
    atomic_write_json(path, record)
    _copy_into(results_dir, _run_folder(results_dir, run), record)
    return path


def archive_legacy(results_dir: Path) -> None:
    """Copy every latest record that names no run into history, as the run its `created` time
    and `git_commit` stand for, and name that run in it."""
    for path in sorted(Path(results_dir).glob("*/*.json")):
        record = read_record(path)
        if path.parent.name in (store.ANALYSIS, store.HISTORY) or not isinstance(record, dict) \
                or "run" in record or "experiment" not in record or "variant" not in record:
            continue
        run = store.legacy_run(record)
        record["run"] = run.id
        _copy_into(results_dir, _run_folder(results_dir, run), record)
        atomic_write_json(path, record)


def _run_folder(results_dir: Path, run: store.Run) -> Path:
    """The run's folder in history, with its run.json."""
    folder = store.run_dir(results_dir, run.id)
    if not (folder / store.RUN_FILE).exists():
        atomic_write_json(folder / store.RUN_FILE, run.to_json())
    return folder


def _copy_into(results_dir: Path, folder: Path, record: dict) -> None:
    """Write the record into a run folder with the artifacts it keeps in results/ (analysis
    JSONs, compiler logs); paths to elsewhere (models/, shared by all runs, or the step cache)
    are made relative to the folder."""
    artifacts = {}
    models = (results_dir / store.MODELS).resolve()
    for name, value in record.get("artifacts", {}).items():
        source = (results_dir / value).resolve()
        if source.is_relative_to(results_dir.resolve()) and source.is_file() \
                and not source.is_relative_to(models):
            atomic_write_bytes(folder / value, source.read_bytes())
            artifacts[name] = value
        else:
            artifacts[name] = os.path.relpath(source, folder.resolve())
    atomic_write_json(record_path(folder, record["experiment"], record["variant"]),
                      {**record, "artifacts": artifacts})


def _copy_json(src: Path, dest: Path, paths: dict) -> None:
    """Copy an analysis/comparison JSON into results/, its model paths replaced by the record's
    artifact paths (relative to results/; the cache path where the step ran means nothing
    elsewhere)."""
    data = json.loads(src.read_text())
    if isinstance(data.get("model"), dict) and paths["model"]:
        data["model"]["path"] = paths["model"]
    for key in ("cpu_model", "compiled_model"):
        if isinstance(data.get(key), str) and paths[key]:
            data[key] = paths[key]
    atomic_write_json(dest, data)


def _copy_examples(src: Path, results_dir: Path, variant) -> str:
    """The example images and their boxes (examples.json beside them) into
    results/examples/<experiment>-<variant>/, so the site can be built from results/ alone."""
    folder = f"examples/{variant.experiment}-{variant.variant}"
    data = json.loads(src.read_text())
    for image in data["images"]:
        atomic_write_bytes(results_dir / folder / image["file"],
                           (src.parent / image["file"]).read_bytes())
    atomic_write_json(results_dir / folder / src.name, data)
    return f"{folder}/{src.name}"


def _keep_model(path: Path, results_dir: Path, name: str) -> str:
    """A copy of the model in results/models/, named by its variant and content: the site
    built from results/ alone publishes it, and runs that leave it unchanged share one copy."""
    data = path.read_bytes()
    dest = results_dir / store.MODELS / f"{name}-{hashlib.sha256(data).hexdigest()[:12]}.tflite"
    if not dest.is_file():
        atomic_write_bytes(dest, data)
    return dest.relative_to(results_dir).as_posix()
