"""Cache keys follow the code that computes a step's output, and the committed results stand in
for the cache of a fresh clone: an analyzer change re-runs compile and evaluate, never training,
with or without the original cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from toy_suite import copy_toy

from tpulens import safefs
from tpulens.runners import cache, code_keys, config, pipeline, restore
from tpulens.runners.plan import build_plan

pytestmark = pytest.mark.slow


@pytest.fixture
def copy(toy_suite, tmp_path):
    """A private copy of the built toy suite (suite, results/, cache; the same step keys)."""
    return copy_toy(toy_suite[0], tmp_path / "run").parent


@pytest.fixture
def planned(copy):
    """The plan the copy's records and cache are up to date with."""
    assert not run(copy).failed  # nothing to do, unless the code changed since the build
    return plan_of(copy)


def run(copy, cache_dir=None):
    return pipeline.run_suite(copy / "benchmarks.toml", "quick", jobs=2, progress=False,
                              cache_dir=cache_dir)


@pytest.fixture
def analyzer_edited(tmp_path, monkeypatch):
    """The analyzer's rule table as if edited: every step key is computed again."""
    edited = tmp_path / "rules.py"
    real = code_keys._file
    edited.write_text(real("tpulens.analyzer.rules").read_text() + "\nEDITED = 1\n")
    monkeypatch.setattr(code_keys, "_file",
                        lambda m: edited if m == "tpulens.analyzer.rules" else real(m))
    code_keys.code_version.cache_clear()
    yield
    monkeypatch.undo()
    code_keys.code_version.cache_clear()


def stages_of(plan, keys) -> list[str]:
    return sorted(plan.nodes[k].stage for k in keys)


def plan_of(root):
    return build_plan(config.load(root / "benchmarks.toml"), "quick")


def test_stage_code_is_what_computes_its_output():
    compile_code = code_keys._closure("tpulens.runners.stages.compile")
    train_code = code_keys._closure("tpulens.runners.stages.train")
    assert {"tpulens.analyzer.rules", "tpulens.analyzer.partition"} <= compile_code
    assert {"tpulens.runners.models", "tpulens.runners.stages.keras_utils"} <= train_code
    assert not any(m.startswith(("tpulens.analyzer", "tpulens.report", "tpulens.history"))
                   for m in train_code)
    assert not {"tpulens.errors", "tpulens.runners.cache"} & (compile_code | train_code)


def test_an_analyzer_change_reruns_compile_and_evaluate_and_no_training(planned, copy, request):
    before = planned
    request.getfixturevalue("analyzer_edited")
    after = plan_of(copy)
    changed = set(after.nodes) - set(before.nodes)
    assert stages_of(after, changed) == ["compile", "compile", "evaluate", "evaluate"]

    summary = run(copy)
    assert summary.written == 2 and not summary.failed
    assert summary.steps_run == 4 and set(summary.stage_seconds) == {"compile", "evaluate"}


def test_a_fresh_clone_restores_the_cache_from_committed_results(planned, copy, request):
    results, old_cache, plan = copy / "results", copy / ".cache" / "tpulens", planned
    done = {key: pipeline._absolute(cache.read_manifest(cache.step_dir(old_cache, n.stage, key)),
                                    old_cache) for key, n in plan.nodes.items()}
    restore.remember(plan, done, results)
    shutil.rmtree(old_cache)  # what a clone has: the committed results/, no cache
    index = json.loads((results / restore.INDEX).read_text())
    assert set(index["variants"]) == {"toy/float32", "toy/int8"}
    converted = [s for s in index["steps"].values() if s["stage"] == "convert"]
    assert len(converted) == 2  # one conversion per variant
    assert all(s["outputs"]["tflite"].startswith("models/") for s in converted)

    new_cache = copy / "fresh-cache"
    request.getfixturevalue("analyzer_edited")
    edited = plan_of(copy)
    count = restore.restore(edited, results, new_cache, pipeline.MEASURING_STAGES)
    assert count == 3  # the train step and both conversions; compile and evaluate are new
    summary = run(copy, new_cache)
    assert summary.written == 2 and not summary.failed
    assert summary.steps_run == 4 and set(summary.stage_seconds) == {"compile", "evaluate"}
    # a restored step keeps its entry: the trained model it made is still named, not kept, so a
    # later clone that must convert again trains again instead of reading a missing model
    trained = [s for s in restore.read_index(results)["steps"].values() if s["stage"] == "train"]
    assert [s["outputs"] for s in trained] == [{"model": None}]
    for name in ("float32", "int8"):
        record = json.loads((results / f"toy/{name}.json").read_text())
        before = json.loads(next((results / "history").glob(f"*/toy/{name}.json")).read_text())
        assert record["status"] == "ok"
        assert record["metrics"]["accuracy_keras"] == before["metrics"]["accuracy_keras"]
        assert Path(record["artifacts"]["tflite"]).name == Path(before["artifacts"]["tflite"]).name


def test_a_kept_model_missing_or_a_measuring_reader_means_no_restore(planned, copy):
    results, old_cache, plan = copy / "results", copy / ".cache" / "tpulens", planned
    done = {key: pipeline._absolute(cache.read_manifest(cache.step_dir(old_cache, n.stage, key)),
                                    old_cache) for key, n in plan.nodes.items()}
    restore.remember(plan, done, results)
    steps = restore.read_index(results)["steps"]
    root = safefs.Root.of(results)
    chosen = restore.restorable(plan, steps, set(), root, pipeline.MEASURING_STAGES)
    assert stages_of(plan, chosen) == ["compile", "compile", "convert", "convert", "evaluate",
                                       "evaluate", "train"]
    compiled = next(steps[k] for k in chosen if plan.nodes[k].stage == "compile")
    assert compiled["outputs"]["analysis"].startswith("analysis/toy-")
    for model in (results / "models").glob("*.tflite"):
        model.unlink()
    chosen = restore.restorable(plan, steps, set(), root, pipeline.MEASURING_STAGES)
    # without the models, neither the conversions nor the training they read can stand in
    assert stages_of(plan, chosen) == ["compile", "compile", "evaluate", "evaluate"]


def test_a_run_indexes_its_steps_and_a_clone_of_its_results_trains_nothing(planned, copy,
                                                                            request):
    index = restore.read_index(copy / "results")  # written by the toy suite's run itself
    assert set(index["variants"]) == {"toy/float32", "toy/int8"}
    shutil.rmtree(copy / ".cache")  # a fresh clone: the committed results, no cache
    request.getfixturevalue("analyzer_edited")
    summary = run(copy)
    assert summary.written == 2 and not summary.failed
    assert set(summary.stage_seconds) == {"compile", "evaluate"} and summary.steps_run == 4


def test_a_clone_whose_records_are_stale_runs_nothing_the_results_cover(planned, copy):
    """A change of how records are assembled makes every record stale; every step of them
    comes from the committed results, analyses and pictures included."""
    for path in (copy / "results" / "toy").glob("*.json"):
        data = json.loads(path.read_text())
        data["record_key"] = "stale"
        path.write_text(json.dumps(data))
    shutil.rmtree(copy / ".cache")
    summary = run(copy)
    assert summary.written == 2 and not summary.failed and summary.steps_run == 0
    record = json.loads((copy / "results" / "toy" / "int8.json").read_text())
    assert record["status"] == "ok"
    assert (copy / "results" / record["artifacts"]["analysis"]).is_file()
