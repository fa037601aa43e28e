"""The Ray executor on a local Ray instance (`ray.init(num_cpus=2)`): the toy suite run as Ray
tasks writes the records the local executor writes, steps ask for their stage's resources, and a
Ray run killed with -9 takes its Ray processes along and resumes like a local one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from toy_suite import SUITE, alive, copy_toy, keep_only_training, start_run, unfinished_steps

from tpulens.runners import pipeline
from tpulens.runners.executors import ExecutorKind, RayExecutor, Resources, step_resources

ray = pytest.importorskip("ray", reason="the Ray executor needs the ray extra (make setup)")
pytestmark = pytest.mark.slow
TIMINGS = ("latency_ms_", "objective")  # the objective has a latency term


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield
    ray.shutdown()


def untimed(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if not k.startswith(TIMINGS)}


def test_a_ray_run_writes_the_records_of_a_local_run(local_ray, toy_suite, tmp_path):
    built, local_summary = toy_suite
    suite = tmp_path / "benchmarks.toml"
    suite.write_text(SUITE)
    (tmp_path / "toy").symlink_to(built / "toy")  # the same data path: the same step keys
    summary = pipeline.run_suite(suite, "quick", jobs=2, progress=False,
                                 executor=ExecutorKind.RAY)
    assert not summary.failed and summary.written == 2
    assert summary.steps_run == local_summary.steps_run == 7  # all from an empty cache
    steps = {p.name for p in (tmp_path / ".cache/tpulens/steps").iterdir()}
    assert steps == {p.name for p in (built / ".cache/tpulens/steps").iterdir()}
    for variant in ("float32", "int8"):
        local = json.loads((built / f"results/toy/{variant}.json").read_text())
        remote = json.loads((tmp_path / f"results/toy/{variant}.json").read_text())
        assert remote["status"] == "ok" and remote["record_key"] == local["record_key"]
        assert remote["params"] == local["params"]
        assert set(remote["metrics"]) == set(local["metrics"])
        assert untimed(remote["metrics"]) == untimed(local["metrics"]), variant
        assert remote["environment"]["threads"] == local["environment"]["threads"]
    again = pipeline.run_suite(suite, "quick", jobs=2, progress=False,
                               executor=ExecutorKind.RAY)
    assert (again.up_to_date, again.steps_run) == (2, 0)


def test_training_steps_take_a_gpu_only_when_tensorflow_can_use_one(local_ray, tmp_path):
    assert step_resources("train", 3, gpu=True) == Resources(cpus=3, gpus=1)
    assert step_resources("detection_train", 1, gpu=True).gpus == 1
    assert step_resources("evaluate", 1, gpu=True) == Resources(cpus=1, gpus=0)
    with RayExecutor(threads=1, cache_dir=tmp_path) as executor:  # a cluster without GPUs
        assert executor.slots == 2 and not executor.gpu
        assert executor.resources("train") == Resources(cpus=1, gpus=0)
    assert ray.is_initialized()  # the test's Ray is left as it was


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def still_alive(pids: set[int], until: float) -> list[int]:
    """The processes of `pids` still alive at `until` (or when all are gone)."""
    while time.time() < until and any(alive(pid) for pid in pids):
        time.sleep(0.2)
    return [pid for pid in pids if alive(pid)]


def test_a_killed_ray_run_takes_its_processes_along_and_resumes(local_ray, toy_suite,
                                                                tmp_path):
    suite = copy_toy(toy_suite[0], tmp_path)
    keep_only_training(tmp_path)
    cache = tmp_path / ".cache" / "tpulens"
    proc = start_run(suite, "--executor", "ray")  # with a Ray instance of its own
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None and not unfinished_steps(cache):
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be interrupted"
        started = descendants(proc.pid)
        # Ray's agents (no step runs in them) exit on their own once their raylet is gone,
        # after trying to report to the dead cluster: about a minute later, measured
        agents = {pid for pid in started if "Agent" in command(pid)}
        assert started - agents
    finally:
        proc.kill()
        proc.communicate()
    # the Ray instance and its workers (those that run steps) go at once
    assert not still_alive(started - agents, time.time() + 30), "Ray processes outlived the run"
    for record in (tmp_path / "results").rglob("*.json"):
        assert json.loads(record.read_text())["status"] == "ok"  # whole records only
    assert unfinished_steps(cache)  # killed in the middle of a step
    summary = pipeline.run_suite(suite, "quick", jobs=2, progress=False,
                                 executor=ExecutorKind.RAY)
    assert summary.written + summary.up_to_date == 2 and not summary.failed
    assert summary.steps_cached >= 1 and summary.steps_run + summary.steps_cached == 7
    assert not unfinished_steps(cache)
