"""Result records (`results/<experiment>/<variant>.json`) assembled from step manifests, and
written both as each variant's latest record and into the run's folder of the history
(tpulens.history.store describes the layout), and the retention that drops old runs. Every
write and delete goes through tpulens.safefs, inside results/ and never through a link: names
taken from records (an experiment, a commit in a run id) must each be one file name.

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

import fcntl
import hashlib
import json
import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from tpulens import safefs
from tpulens.analyzer.vocabulary import RecordStatus
from tpulens.errors import InputError
from tpulens.history import settings as history_settings
from tpulens.history import store
from tpulens.metrics import metric_info
from tpulens.runners.environment import git_commit, git_dirty

SCHEMA_VERSION = 1
LOCK_FILE = ".tpulens.lock"  # in results/: one run at a time writes or prunes it
_HELD: set[str] = set()  # results directories whose lock this process holds

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
                    _write_inside(dest, src.read_bytes())
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
    """Where a variant's record lives; its names must each be one usable file name."""
    try:
        return results_dir / safefs.valid_name(experiment, "experiment") / \
            f"{safefs.valid_name(variant, 'variant')}.json"
    except safefs.Unusable as err:
        raise InputError(f"{results_dir}: {err}") from None


def read_record(path: Path) -> dict | None:
    """A record's JSON object, or None when it is missing, unreadable or not a regular file
    (a FIFO is refused, not waited on)."""
    try:
        data = safefs.load_json(safefs.read_regular(path, store.MAX_RECORD_BYTES,
                                                    follow=False))
    except (safefs.Unusable, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


@contextmanager
def results_lock(results_dir: Path) -> Iterator[None]:
    """Serialise the writes and the retention of the runs that share one results/ (whatever
    their caches). Re-entrant within a process: a run holding it may write records."""
    key = os.path.realpath(results_dir)
    if key in _HELD:
        yield
        return
    Path(results_dir).mkdir(parents=True, exist_ok=True)
    lock = Path(key) / LOCK_FILE
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise InputError(f"{lock}: cannot lock the results directory ({err.strerror})") \
            from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD.add(key)
        yield
    finally:
        _HELD.discard(key)
        os.close(fd)


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
    prune(results_dir, history_settings.from_suite(suite_data).keep_runs)


def write_record(results_dir: Path, record: dict, run: store.Run) -> Path:
    """The record becomes the variant's latest and is kept, with its artifacts, in its run."""
    record = {**record, "run": run.id}
    path = record_path(results_dir, record["experiment"], record["variant"])
    root = safefs.Root.of(results_dir)
    with results_lock(results_dir):
        try:
            root.write_bytes(path.relative_to(results_dir), _json_bytes(record))
            _copy_into(root, _run_folder(root, run), record)
        except safefs.Unusable as err:
            raise InputError(f"{results_dir}: cannot write {path.name}: {err}") from None
    return path


def archive_legacy(results_dir: Path) -> None:
    """Copy every latest record that names no run into history, as the run its `created` time
    and `git_commit` stand for, and name that run in it. A record whose names cannot be file
    names (`..`, a slash) stays where it is: nothing it says is written."""
    root = safefs.Root.of(results_dir)
    if not root.is_dir(root.path):
        return
    with results_lock(results_dir):
        for path in root.files("*/*.json"):
            record = read_record(path)
            if path.parent.name in (store.ANALYSIS, store.HISTORY) or \
                    not isinstance(record, dict) or "run" in record:
                continue
            run = store.legacy_run(record)
            try:
                safefs.valid_name(run.id, "run")
                record_path(root.path, record.get("experiment"), record.get("variant"))
                record["run"] = run.id
                _copy_into(root, _run_folder(root, run), record)
                root.write_bytes(path.relative_to(root.path), _json_bytes(record))
            except (safefs.Unusable, InputError):
                continue


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


def _run_folder(root: safefs.Root, run: store.Run) -> Path:
    """The run's folder in history, with its run.json."""
    folder = root.path / store.HISTORY / safefs.valid_name(run.id, "run")
    if not root.is_file(folder / store.RUN_FILE):
        root.write_bytes(folder / store.RUN_FILE, _json_bytes(run.to_json()))
    return folder


def _copy_into(root: safefs.Root, folder: Path, record: dict) -> None:
    """Write the record into a run folder with the artifacts it keeps in results/ (analysis
    JSONs, compiler logs); paths to elsewhere (models/, shared by all runs, or the step cache)
    are made relative to the folder."""
    artifacts = {}
    models = root.path / store.MODELS
    given = record.get("artifacts")
    for name, value in (given if isinstance(given, dict) else {}).items():
        if not isinstance(value, str):
            continue
        try:
            source = root.locate(value)
            dest = root.locate(value, folder)
        except safefs.Unusable:
            source = dest = None
        if source and dest and dest.is_relative_to(folder) and root.is_file(source) \
                and not source.is_relative_to(models):
            root.write_bytes(dest, root.read(source, store.MAX_ARTIFACT_BYTES))
            artifacts[name] = value
        else:
            full = Path(os.path.normpath(root.path / value))
            artifacts[name] = os.path.relpath(full, folder)
    dest = record_path(folder, record["experiment"], record["variant"])
    root.write_bytes(dest, _json_bytes({**record, "artifacts": artifacts}))


def prune(results_dir: Path, keep: int) -> list[Path]:
    """Retention: delete the history copies beyond the newest `keep` runs of their variant.

    Only what a run wrote goes: the copy, the artifacts copied into its run folder beside it,
    the run.json of a folder left without records, then its empty folders (never a folder's
    other contents), and a model copy that an expired record named, that its name proves
    tpulens wrote (its content hash) and that no readable record names any more. Nothing is
    followed through a symbolic link, and when any record cannot be read no model is deleted.
    Returns the deleted copies."""
    root = safefs.Root.of(results_dir)
    if not root.is_dir(root.path):
        return []
    with results_lock(results_dir):
        copies, latest, unreadable = _stored_records(root)
        expired = _expired(copies, latest, keep)
        models: set[Path] = set()
        for path, record in expired:
            folder = path.parent.parent
            for value in _artifact_values(record):
                target = _located(root, value, folder)
                if target is None:
                    continue
                if target.is_relative_to(folder):
                    root.unlink(target)
                elif target.parent == root.path / store.MODELS:
                    models.add(target)
            root.unlink(path)
        gone = {path for path, _ in expired}
        for folder in {path.parent.parent for path in gone}:
            _drop_if_empty(root, folder)
        if models and not unreadable:
            named = {target for path, record in (*copies, *latest) if path not in gone
                     for value in _artifact_values(record)
                     if (target := _located(root, value, _base(root, path))) is not None}
            for model in models - named:
                if _written_model(root, model):
                    root.unlink(model)
    return sorted(gone)


def _base(root: safefs.Root, path: Path) -> Path:
    """The folder a record's artifact paths are relative to: results/ or its run folder."""
    return root.path if path.parent.parent == root.path else path.parent.parent


def _stored_records(root: safefs.Root) -> tuple[list, list, bool]:
    """(history copies, top-level records, whether any record file was unreadable): records
    as (path, object) pairs, read through the confined layer."""
    copies, latest, unreadable = [], [], False
    for pattern, out in ((f"{store.HISTORY}/*/*/*.json", copies), ("*/*.json", latest)):
        for path in root.files(pattern):
            if path.parent.name in (store.ANALYSIS, store.HISTORY, store.MODELS):
                continue
            record = read_record(path)
            if record is None:
                unreadable = True
                continue
            out.append((path, record))
    return copies, latest, unreadable


def _key(path: Path, record: dict) -> tuple:
    names = (record.get("experiment"), record.get("variant"))
    return names if all(isinstance(n, str) and n for n in names) else \
        (path.parent.name, path.stem)


def _expired(copies: list, latest: list, keep: int) -> list:
    """The copies beyond the newest `keep` runs of their variant; a variant's latest record
    holds its run's place, and its own run's copy always stays."""
    runs: dict[tuple, set[str]] = {}
    current: dict[tuple, str] = {}
    for path, record in latest:
        run = record.get("run") if isinstance(record.get("run"), str) else ""
        current[_key(path, record)] = run
        runs.setdefault(_key(path, record), set()).add(run)
    for path, record in copies:
        runs.setdefault(_key(path, record), set()).add(path.parent.parent.name)
    kept = {key: set(sorted(ids)[max(0, len(ids) - keep):]) for key, ids in runs.items()}
    return [(path, record) for path, record in copies
            if path.parent.parent.name not in kept[_key(path, record)]
            and path.parent.parent.name != current.get(_key(path, record))]


def _artifact_values(record: dict) -> list[str]:
    artifacts = record.get("artifacts")
    values = artifacts.values() if isinstance(artifacts, dict) else ()
    return [v for v in values if isinstance(v, str) and v]


def _located(root: safefs.Root, value: str, base: Path) -> Path | None:
    try:
        return root.locate(value, base)
    except safefs.Unusable:
        return None


def _drop_if_empty(root: safefs.Root, folder: Path) -> None:
    """A run folder left without records loses its run.json, then its empty folders."""
    if not root.is_dir(folder) or _record_files(root, folder):
        return
    root.unlink(folder / store.RUN_FILE)
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        root.rmdir(path)
    root.rmdir(folder)


def _record_files(root: safefs.Root, folder: Path) -> list[Path]:
    rel = folder.relative_to(root.path).as_posix()
    return [p for p in root.files(f"{rel}/*/*.json") if p.parent.name != store.ANALYSIS]


def _written_model(root: safefs.Root, path: Path) -> bool:
    """Whether a model file is a copy _keep_model wrote: its name ends in its content's hash."""
    try:
        data = root.read(path, store.MAX_MODEL_BYTES)
    except safefs.Unusable:
        return False
    return path.suffix == ".tflite" and \
        path.stem.endswith("-" + hashlib.sha256(data).hexdigest()[:12])


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
    _write_inside(dest, _json_bytes(data))


def _write_inside(dest: Path, data: bytes) -> None:
    """Write a file of results/ (dest is results/<folder>/<file>), never through a link."""
    results_dir = dest.parent.parent
    try:
        safefs.Root.of(results_dir).write_bytes(dest.relative_to(results_dir), data)
    except safefs.Unusable as err:
        raise InputError(f"{results_dir}: cannot write {dest.name}: {err}") from None


def _copy_examples(src: Path, results_dir: Path, variant) -> str:
    """The example images and their boxes (examples.json beside them) into
    results/examples/<experiment>-<variant>/, so the site can be built from results/ alone."""
    folder = f"examples/{variant.experiment}-{variant.variant}"
    data = json.loads(src.read_text())
    root = safefs.Root.of(results_dir)
    try:
        safefs.valid_name(f"{variant.experiment}-{variant.variant}", "examples folder")
        for image in data["images"]:
            name = safefs.valid_name(image["file"], "example image")
            root.write_bytes(f"{folder}/{name}", (src.parent / name).read_bytes())
        root.write_bytes(f"{folder}/{src.name}", _json_bytes(data))
    except safefs.Unusable as err:
        raise InputError(f"{results_dir}: cannot write the examples: {err}") from None
    return f"{folder}/{src.name}"


def _keep_model(path: Path, results_dir: Path, name: str) -> str:
    """A copy of the model in results/models/, named by its variant and content: the site
    built from results/ alone publishes it, and runs that leave it unchanged share one copy."""
    data = path.read_bytes()
    dest = results_dir / store.MODELS / f"{name}-{hashlib.sha256(data).hexdigest()[:12]}.tflite"
    root = safefs.Root.of(results_dir)
    with results_lock(results_dir):
        if not root.is_file(root.path / dest.relative_to(results_dir)):
            _write_inside(dest, data)
    return dest.relative_to(results_dir).as_posix()
