"""The committed results stand in for the step cache of a fresh clone.

`remember` keeps, in `results/steps.json`, which steps made each variant's record and each
step's manifest: its metrics, notes and timings, and, for every output the record keeps a copy
of, where that copy lies in results/ (the model in `models/`, the analysis and compiler log in
`analysis/`, the detection pictures in `examples/`: KEPT says which output becomes which
artifact). `restore` writes those manifests back into the cache where it has none, with the kept
files copied in, so a clone re-runs only the steps whose code, config or inputs changed since
the results were made: an analyzer change re-runs compile and evaluate, not training.

A step whose outputs results/ does not keep (a trained Keras model, a downloaded archive, a
generated dataset) is restored only when every step that reads it is cached or restored too, and
none of those is a measuring step that runs again (`measuring`: under --remeasure): no step ever
reads a file that is not there.
"""

from __future__ import annotations

from pathlib import Path

from tpulens import safefs
from tpulens.errors import InputError
from tpulens.history.store import MAX_MODEL_BYTES
from tpulens.runners import cache, records
from tpulens.runners.plan import Plan

INDEX = "steps.json"
FORMAT = 2
MANIFEST_FIELDS = ("stage", "label", "metrics", "metric_info", "notes", "info", "seconds",
                   "cpu_seconds")
# role in a variant's steps → the outputs of that step its record keeps as artifacts of the same
# name (runners.records.assemble), and the results/ folders those copies lie in.
KEPT = {"convert": ("tflite",),
        "compile": ("analysis", "compiled_tflite", "comparison", "compiled_analysis",
                    "compiler_log"),
        "evaluate": ("examples",)}
KEPT_FOLDERS = ("models", "analysis", "examples")
WHOLE_FOLDER = "examples"  # a kept file here comes with the files beside it (the pictures)
MAX_INDEX_BYTES = 64 * 1024 * 1024  # the manifests of every step behind the results


def remember(plan: Plan, done: dict[str, dict], results_dir: Path) -> None:
    """Add the variants whose steps all finished in this run to the index; keep the entries of
    other variants while their record on disk is still the one they made."""
    results_dir = Path(results_dir)
    index = read_index(results_dir)
    names = [f"{v.experiment}/{v.variant}" for v in plan.variants]
    latest = {name: _record(results_dir, name) for name in {*names, *index["variants"]}}
    for variant, name in zip(plan.variants, names, strict=True):
        record = latest[name]
        if record is None or not all(key in done for key in variant.steps.values()):
            continue
        index["variants"][name] = {"record_key": variant.record_key, "steps": variant.steps}
        artifacts = record.get("artifacts") if isinstance(record.get("artifacts"), dict) else {}
        for role, key in variant.steps.items():
            manifest = done[key]
            if manifest.get("restored_from") and key in index["steps"]:
                continue  # its manifest names only the kept outputs: the entry it came from
            kept = {output: artifacts.get(output) for output in manifest.get("outputs", {})
                    if output in KEPT.get(role, ()) and isinstance(artifacts.get(output), str)}
            outputs = {output: kept.get(output) for output in manifest.get("outputs", {})}
            index["steps"][key] = {**{k: manifest.get(k) for k in MANIFEST_FIELDS},
                                   "outputs": outputs}
    index["variants"] = {name: entry for name, entry in index["variants"].items()
                         if (latest[name] or {}).get("record_key") == entry["record_key"]}
    kept_keys = {key for entry in index["variants"].values() for key in entry["steps"].values()}
    index["steps"] = {key: step for key, step in index["steps"].items() if key in kept_keys}
    cache.atomic_write_json(results_dir / INDEX, {"format": FORMAT, **index})


def restore(plan: Plan, results_dir: Path, cache_dir: Path, measuring: tuple[str, ...]) -> int:
    """Write the index's manifests for the plan's steps the cache lacks; returns how many."""
    results_dir, cache_dir = Path(results_dir), Path(cache_dir)
    steps = read_index(results_dir)["steps"]
    cached = {key for key, node in plan.nodes.items()
              if cache.read_manifest(cache.step_dir(cache_dir, node.stage, key)) is not None}
    root = safefs.Root.of(results_dir)
    chosen = restorable(plan, steps, cached, root, measuring)
    for key in sorted(chosen):
        _write_step(cache.step_dir(cache_dir, plan.nodes[key].stage, key), key, steps[key],
                    root)
    return len(chosen)


def restorable(plan: Plan, steps: dict, cached: set[str], root: safefs.Root,
               measuring: tuple[str, ...]) -> set[str]:
    """The plan's uncached steps the index can stand in for (see the module's docstring)."""
    readers: dict[str, set[str]] = {key: set() for key in plan.nodes}
    for key, node in plan.nodes.items():
        for dep in node.deps.values():
            readers.setdefault(dep, set()).add(key)
    chosen = {key for key, node in plan.nodes.items() if key not in cached
              and isinstance(steps.get(key), dict) and steps[key].get("stage") == node.stage}
    complete = {key for key in chosen if _outputs_kept(steps[key], root)}
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
        data = safefs.load_json(safefs.read_regular(Path(results_dir) / INDEX,
                                                    MAX_INDEX_BYTES, follow=False))
    except (safefs.Unusable, ValueError, RecursionError):
        data = None
    if not isinstance(data, dict) or data.get("format") != FORMAT \
            or not isinstance(data.get("variants"), dict) \
            or not isinstance(data.get("steps"), dict):
        return {"variants": {}, "steps": {}}
    return {"variants": data["variants"], "steps": data["steps"]}


def _outputs_kept(step: dict, root: safefs.Root) -> bool:
    outputs = step.get("outputs")
    return isinstance(outputs, dict) and all(_kept(root, value) is not None
                                             for value in outputs.values())


def _kept(root: safefs.Root, value: object) -> Path | None:
    """The kept file an index entry names: a regular file in one of KEPT_FOLDERS of results/,
    reached without a link; None otherwise."""
    if not isinstance(value, str) or value.split("/")[0] not in KEPT_FOLDERS:
        return None
    try:
        path = root.locate(value)
    except safefs.Unusable:
        return None
    return path if root.is_file(path) else None


def _write_step(directory: Path, key: str, step: dict, root: safefs.Root) -> None:
    """A finished step: its kept outputs copied in, its manifest written last."""
    cache.fresh_dir(directory)
    outputs = {}
    for name, value in (step.get("outputs") or {}).items():
        source = _kept(root, value)
        if source is None:
            continue
        folder = directory / name
        folder.mkdir()
        siblings = [p for p in source.parent.iterdir() if root.is_file(p)] \
            if value.split("/")[0] == WHOLE_FOLDER else [source]
        for file in siblings:
            (folder / file.name).write_bytes(root.read(file, MAX_MODEL_BYTES))
        outputs[name] = str(Path("steps") / directory.name / name / source.name)
    manifest = {**{k: step.get(k) for k in MANIFEST_FIELDS}, "key": key, "outputs": outputs,
                "restored_from": f"results/{INDEX}"}
    cache.atomic_write_json(directory / cache.MANIFEST, manifest)


def _record(results_dir: Path, name: str) -> dict | None:
    """The latest record of the variant named "experiment/variant", or None (a name from the
    index may be anything)."""
    experiment, _, variant = name.partition("/")
    try:
        return records.read_record(records.record_path(results_dir, experiment, variant))
    except InputError:
        return None
