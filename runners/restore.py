"""The committed results stand in for the step cache of a fresh clone.

`remember` keeps, in `results/steps.json`, which steps made each variant's record and each
step's manifest (metrics, notes, timings, and every output file that `results/models/` holds,
found by content). `restore` writes those manifests back into the cache where it has none, with
the model files copied in, so a clone re-runs only the steps whose code, config or inputs changed
since the results were made: an analyzer change re-runs compile and evaluate, not training.

A step whose outputs results/ does not keep (a trained Keras model, a downloaded archive, a
generated dataset) is restored only when every step that reads it is cached or restored too, and
none of those is a measuring step (which `--remeasure` runs again): no step ever reads a file
that is not there.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from tpulens.runners import cache
from tpulens.runners.plan import Plan

INDEX = "steps.json"
MODELS = "models"
FORMAT = 1
MANIFEST_FIELDS = ("stage", "label", "metrics", "metric_info", "notes", "info", "seconds",
                   "cpu_seconds")


def remember(plan: Plan, done: dict[str, dict], results_dir: Path) -> None:
    """Add the variants whose steps all finished in this run to the index; keep the entries of
    other variants while their record on disk is still the one they made."""
    results_dir = Path(results_dir)
    index = read_index(results_dir)
    models = _models_by_content(results_dir)
    for variant in plan.variants:
        if all(key in done for key in variant.steps.values()):
            index["variants"][f"{variant.experiment}/{variant.variant}"] = {
                "record_key": variant.record_key, "steps": variant.steps}
            for key in variant.steps.values():
                index["steps"][key] = _entry(done[key], models, results_dir)
    index["variants"] = {name: entry for name, entry in index["variants"].items()
                         if _record_key(results_dir, name) == entry["record_key"]}
    kept = {key for entry in index["variants"].values() for key in entry["steps"].values()}
    index["steps"] = {key: step for key, step in index["steps"].items() if key in kept}
    cache.atomic_write_json(results_dir / INDEX, {"format": FORMAT, **index})


def restore(plan: Plan, results_dir: Path, cache_dir: Path, measuring: tuple[str, ...]) -> int:
    """Write the index's manifests for the plan's steps the cache lacks; returns how many."""
    results_dir, cache_dir = Path(results_dir), Path(cache_dir)
    steps = read_index(results_dir)["steps"]
    cached = {key for key, node in plan.nodes.items()
              if cache.read_manifest(cache.step_dir(cache_dir, node.stage, key)) is not None}
    chosen = restorable(plan, steps, cached, results_dir, measuring)
    for key in sorted(chosen):
        _write_step(cache.step_dir(cache_dir, plan.nodes[key].stage, key), key, steps[key],
                    results_dir)
    return len(chosen)


def restorable(plan: Plan, steps: dict, cached: set[str], results_dir: Path,
               measuring: tuple[str, ...]) -> set[str]:
    """The plan's uncached steps the index can stand in for (see the module's docstring)."""
    readers: dict[str, set[str]] = {key: set() for key in plan.nodes}
    for key, node in plan.nodes.items():
        for dep in node.deps.values():
            readers.setdefault(dep, set()).add(key)
    chosen = {key for key, node in plan.nodes.items() if key not in cached
              and isinstance(steps.get(key), dict) and steps[key].get("stage") == node.stage}
    complete = {key for key in chosen if _outputs_kept(steps[key], results_dir)}
    changed = True
    while changed:
        changed = False
        for key in sorted(chosen - complete):
            if not readers[key] or any(r not in chosen | cached
                                       or plan.nodes[r].stage in measuring
                                       for r in readers[key]):
                chosen.discard(key)
                changed = True
    return chosen


def read_index(results_dir: Path) -> dict:
    """The index, or an empty one when it is missing, unreadable or of another format."""
    try:
        data = json.loads((Path(results_dir) / INDEX).read_text())
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("format") != FORMAT \
            or not isinstance(data.get("variants"), dict) \
            or not isinstance(data.get("steps"), dict):
        return {"variants": {}, "steps": {}}
    return {"variants": data["variants"], "steps": data["steps"]}


def _entry(manifest: dict, models: dict[str, str], results_dir: Path) -> dict:
    """A manifest as the index keeps it: outputs as files under results/ (None if not kept)."""
    outputs = {}
    for name, path in manifest.get("outputs", {}).items():
        file = Path(path) if path else None
        outputs[name] = models.get(_sha256(file)) if file and file.is_file() else None
    return {**{k: manifest.get(k) for k in MANIFEST_FIELDS}, "outputs": outputs}


def _outputs_kept(step: dict, results_dir: Path) -> bool:
    outputs = step.get("outputs") or {}
    return isinstance(outputs, dict) and all(
        isinstance(value, str) and _kept_file(_inside(results_dir, value))
        for value in outputs.values())


def _kept_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _write_step(directory: Path, key: str, step: dict, results_dir: Path) -> None:
    """A finished step: its kept outputs copied in, its manifest written last."""
    cache.fresh_dir(directory)
    outputs = {}
    for name, value in (step.get("outputs") or {}).items():
        source = _inside(results_dir, value) if isinstance(value, str) else None
        if source and _kept_file(source):
            shutil.copyfile(source, directory / source.name)
            outputs[name] = str(Path("steps") / directory.name / source.name)
    manifest = {**{k: step.get(k) for k in MANIFEST_FIELDS}, "key": key, "outputs": outputs,
                "restored_from": f"results/{INDEX}"}
    cache.atomic_write_json(directory / cache.MANIFEST, manifest)


def _inside(results_dir: Path, value: str) -> Path:
    """A path the index names, only when it is a file right under results/models/."""
    path = Path(value)
    if path.parent != Path(MODELS) or path.name in ("", ".", ".."):
        return results_dir / MODELS / ".missing"
    return results_dir / MODELS / path.name


def _models_by_content(results_dir: Path) -> dict[str, str]:
    folder = results_dir / MODELS
    files = sorted(folder.glob("*.tflite")) if folder.is_dir() else []
    return {_sha256(f): f"{MODELS}/{f.name}" for f in files if _kept_file(f)}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record_key(results_dir: Path, name: str) -> str | None:
    parts = name.split("/")
    if len(parts) != 2 or any(not part or part.startswith(".") for part in parts):
        return None
    try:
        record = json.loads((results_dir / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None
    return record.get("record_key") if isinstance(record, dict) else None
