"""The results store: runs kept in history/, the latest records on top, the committed (older)
layout still read, retention, and the [history]/[diff] tables of benchmarks.toml."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from committed import committed_results
from sample_results import chain_analysis, record, write

from tpulens.errors import InputError
from tpulens.history import store
from tpulens.runners import config, records

REPO = Path(__file__).resolve().parents[1]


def a_run(results: Path, when: str, commit: str = "c0ffee0") -> store.Run:
    run = store.new_run(datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=UTC),
                        commit, False, "host", "quick")
    path = store.run_dir(results, run.id) / store.RUN_FILE
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(run.to_json()))
    return run


def variant_record(experiment: str, variant: str, accuracy: float, results: Path) -> dict:
    """A record as assemble() leaves it: its analysis already copied into results/analysis/,
    its model in a cache outside results/."""
    name = f"analysis/{experiment}-{variant}.json"
    write(results, name, chain_analysis(f"{variant}.tflite", 3))
    data = record(experiment, variant, {"accuracy": accuracy}, analysis=name)
    data["artifacts"]["tflite"] = "../cache/model.tflite"
    return data


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """The results committed at HEAD (never the working tree's, which a run rewrites)."""
    return committed_results(tmp_path_factory.mktemp("committed"))


def test_the_committed_results_load_with_their_runs(results):
    history = store.load(results)
    assert not history.problems and len(history.runs) >= 2
    latest = history.latest()
    tops = [p for p in results.glob("*/*.json") if p.parent.name != "analysis"]
    assert len(latest) == len(tops) and all(e.latest for e in latest.values())
    assert {e.run.id for e in latest.values()} <= {r.id for r in history.runs}
    entry = latest[("quantization", "int8_int8_io")]
    assert entry.artifact("analysis") == results / "analysis/quantization-int8_int8_io.json"
    assert entry.artifact("tflite").resolve().parent == results.resolve() / "models"
    assert history.snapshot(history.latest_run.id) == latest


def legacy_results(results: Path, folder: Path) -> Path:
    """The committed results as they were written before history existed, all at one time and
    commit: no history/ and no `run` in the records."""
    shutil.copytree(results, folder, ignore=shutil.ignore_patterns("history"))
    for path in folder.glob("*/*.json"):
        data = json.loads(path.read_text())
        if "run" in data:
            del data["run"]
            data["created"] = "2026-11-22T21:21:03Z"
            data["git_commit"] = "2b68f4e"
            path.write_text(json.dumps(data))
    return folder


def test_every_run_keeps_its_records_and_the_latest_is_on_top(tmp_path):
    results = tmp_path / "results"
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "model.tflite").write_bytes(b"TFL3")
    first, second = a_run(results, "2026-01-01 10:00"), a_run(results, "2026-01-02 10:00", "b")
    records.write_record(results, variant_record("e", "v", 0.90, results), first)
    records.write_record(results, variant_record("e", "w", 0.80, results), first)
    records.write_record(results, variant_record("e", "v", 0.95, results), second)

    history = store.load(results)
    assert [r.id for r in history.runs] == [first.id, second.id]
    assert history.latest_run == second and second.machine == "host"
    series = history.series("e", "v")
    assert [(e.run.id, e.record["metrics"]["accuracy"]) for e in series] == [
        (first.id, 0.90), (second.id, 0.95)]
    assert not series[0].latest and series[1].latest  # the top-level record wins its twin
    top = json.loads((results / "e/v.json").read_text())
    assert top["run"] == second.id and top["metrics"]["accuracy"] == 0.95
    old = series[0]
    assert old.path == results / "history" / first.id / "e/v.json"
    assert json.loads(old.artifact("analysis").read_text())["model"]["name"] == "v.tflite"
    assert old.artifact("tflite").resolve() == tmp_path / "cache/model.tflite"
    assert {k: e.record["metrics"]["accuracy"] for k, e in history.snapshot(first.id).items()} \
        == {("e", "v"): 0.90, ("e", "w"): 0.80}
    with pytest.raises(InputError, match="no run 'nope'"):
        history.snapshot("nope")


def test_a_run_keeps_the_records_written_before_history_existed(tmp_path, results):
    committed, results = results, legacy_results(results, tmp_path / "results")
    variants = len([p for p in results.glob("*/*.json") if p.parent.name != "analysis"])
    legacy = store.legacy_run(json.loads((results / "zoo/mltk_resnet8_cifar10.json")
                                         .read_text())).id
    run = records.start_run(results, tmp_path, "default")
    folder = results / "history" / legacy
    assert len(list(folder.glob("*/*.json"))) \
        == variants + len(list(folder.glob("analysis/*")))
    assert (folder / "analysis/quantization-int8_int8_io.json").read_bytes() == \
        (committed / "analysis/quantization-int8_int8_io.json").read_bytes()
    assert json.loads((results / "zoo/mltk_resnet8_cifar10.json").read_text())["run"] == legacy
    assert run.git_commit is None and run.id.endswith("-nogit") and run.profile == "default"
    history = store.load(results)
    assert [r.id for r in history.runs] == [legacy]  # the new run has written nothing yet
    assert len(history.latest()) == variants and not history.problems
    assert store.load(results).latest()[("zoo", "mltk_resnet8_cifar10")].run.id == legacy


def test_two_runs_in_the_same_second_get_distinct_ids(tmp_path, monkeypatch):
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 3, 1, 12, 0, 0, tzinfo=tz)

    monkeypatch.setattr(records, "datetime", Frozen)
    results = tmp_path / "results"
    first = records.start_run(results, tmp_path, "quick")
    assert not (results / "history").exists()  # a run's folder appears with its first record
    records.write_record(results, record("e", "v", {"accuracy": 0.5}), first)
    second = records.start_run(results, tmp_path, "quick")
    assert (first.id, second.id) == ("20260301T120000Z-nogit", "20260301T120000Z-nogit-2")


def test_retention_drops_the_oldest_runs_of_each_variant(tmp_path):
    results = tmp_path / "results"
    (tmp_path / "cache").mkdir()
    runs = [a_run(results, f"2026-01-0{day} 10:00") for day in range(1, 6)]
    for i, run in enumerate(runs):
        records.write_record(results, variant_record("e", "often", 0.5 + i / 100, results), run)
    records.write_record(results, variant_record("e", "once", 0.7, results), runs[0])
    gone = records.prune(results, keep=2)

    assert sorted((p.stem, p.parent.parent.name) for p in gone) == [
        ("often", runs[0].id), ("often", runs[1].id), ("often", runs[2].id)]
    history = store.load(results)
    assert [e.run.id for e in history.series("e", "often")] == [runs[3].id, runs[4].id]
    assert [e.run.id for e in history.series("e", "once")] == [runs[0].id]  # its only run
    assert not (results / "history" / runs[0].id / "analysis/e-often.json").exists()
    assert (results / "history" / runs[0].id / "analysis/e-once.json").exists()
    assert not (results / "history" / runs[1].id).exists()  # nothing left in it
    assert (tmp_path / "cache").is_dir()  # artifacts outside the run folder are not touched


def test_models_are_shared_by_runs_and_dropped_with_the_last_record_naming_them(tmp_path):
    results = tmp_path / "results"
    runs = [a_run(results, f"2026-01-0{day} 10:00") for day in range(1, 4)]
    for run, weights in zip(runs, (b"old", b"new", b"new"), strict=True):
        model = tmp_path / "cache" / run.id / "model.tflite"
        model.parent.mkdir(parents=True)
        model.write_bytes(b"TFL3" + weights)
        data = variant_record("e", "v", 0.5, results)
        data["artifacts"]["tflite"] = records._keep_model(model, results, "e-v")
        records.write_record(results, data, run)
    assert len(list((results / "models").iterdir())) == 2  # the unchanged model is kept once
    copies = [e.artifact("tflite") for e in store.load(results).series("e", "v")]
    assert [p.read_bytes() for p in copies] == [b"TFL3old", b"TFL3new", b"TFL3new"]
    assert not (results / "history" / runs[1].id / "models").exists()  # not copied per run

    records.prune(results, keep=2)
    assert [p.read_bytes() for p in (results / "models").iterdir()] == [b"TFL3new"]


def test_unreadable_files_are_problems(tmp_path):
    results = tmp_path / "results"
    run = a_run(results, "2026-01-01 10:00")
    (store.run_dir(results, run.id) / "e").mkdir()
    (store.run_dir(results, run.id) / "e" / "v.json").write_text("[1]")
    (store.run_dir(results, run.id) / store.RUN_FILE).write_text("{")
    history = store.load(results)
    assert history.problems == [
        f"history/{run.id}/run.json: unreadable (JSONDecodeError: Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1))",
        f"history/{run.id}/e/v.json: not a JSON object"]
    assert [r.id for r in history.runs] == [run.id]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                   check=True, capture_output=True)


def test_dirty_means_tracked_changes_outside_the_results(tmp_path):
    from tpulens.runners.environment import git_commit, git_dirty

    assert git_dirty(tmp_path, tmp_path / "results") is None  # not a checkout
    git(tmp_path, "init", "-q")
    for name in ("results/e/v.json", "benchmarks.toml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("1")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "one")
    (tmp_path / "results/e/v.json").write_text("2")
    (tmp_path / "untracked.py").write_text("")
    assert git_dirty(tmp_path, tmp_path / "results") is False
    (tmp_path / "benchmarks.toml").write_text("2")
    assert git_dirty(tmp_path, tmp_path / "results") is True
    run = records.start_run(tmp_path / "results", tmp_path, "quick")
    assert run.git_commit == git_commit(tmp_path) and run.git_dirty is True
    assert run.commit_label == f"{run.git_commit}+dirty"


SUITE = """schema_version = 1
[profiles.quick]
train_samples = 1
test_samples = 1
eval_train_samples = 1
calibration_samples = 1
epochs = 1
finetune_epochs = 1
latency_warmup = 1
latency_runs = 1
[experiments.zoo]
kind = "zoo"
[[experiments.zoo.variants]]
name = "m"
source = { registry = "pypi", package = "p", version = "1" }
member = ["m.tflite"]
"""


@pytest.mark.parametrize("table, message", [
    ("[history]\nkeep_runs = 0\n", "history.keep_runs: expected an integer of at least 1, got 0"),
    ("[history]\nkeep = 3\n", "history.keep: unknown key (allowed: keep_runs)"),
    ("[diff]\nsignificance = 2\n", "diff.significance: expected a number between 0 and 1"),
    ("[diff.thresholds]\naccuracy = { relative = 0.1, absolute = 1 }\n",
     "diff.thresholds.accuracy: expected { relative = R } or { absolute = A }"),
])
def test_bad_history_and_diff_tables_are_reported_with_their_line(tmp_path, table, message):
    suite = tmp_path / "benchmarks.toml"
    suite.write_text(SUITE + table)
    with pytest.raises(InputError) as err:
        config.load(suite)
    line = len(SUITE.splitlines()) + 2
    assert str(err.value).startswith(f"{suite}:{line}: {message}")


def test_the_suite_settings_are_read(tmp_path):
    (tmp_path / "plain.toml").write_text(SUITE)
    assert config.load(tmp_path / "plain.toml").data.get("history") is None

    from tpulens.history import settings

    loaded = settings.from_suite(config.load(REPO / "benchmarks.toml").data)
    assert loaded.keep_runs == 20 and loaded.significance == 0.01
    assert loaded.threshold("accuracy", "fraction").describe() == "±0.01"
    assert loaded.threshold("latency_ms_p50", "ms").describe() == "±10 %"
    assert loaded.threshold("gzip_bytes", "bytes").describe() == "±1 %"  # unit default
    assert loaded.threshold("edgetpu_ops_cpu", "ops").describe() == "±0"
    assert settings.Settings().threshold("anything", "?").describe() == "±5 %"
