"""Run a suite: skip up-to-date records, run the missing steps (in dependency order,
independent steps in parallel) on an executor, and write one record per variant as soon as its
steps are done. The executor (runners.executors) is worker processes on this machine, or tasks
on a Ray cluster; the scheduling, cache, progress bar and records here are the same for both.

The main process never imports TensorFlow: planning and record assembly use only the config,
the cache manifests and the standard library, so a fully cached run takes seconds.

With `remeasure`, every selected variant is written again: its measuring steps (evaluate) run
anew, replacing their cached results, while training, conversion and compilation come from the
cache. That is how a new commit, or a nightly run, records fresh measurements in history.

One run at a time per cache (a lock file; a second run says so and stops). Workers die with the
main process (Linux parent-death signal; a Ray driver's tasks end with it), and each step is
built under its own lock, so a rerun never rebuilds a step that a worker of a killed run still
writes. A full disk stops the run with
one line; the steps already finished stay cached.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from tpulens.errors import InputError
from tpulens.runners import cache, config, records, restore
from tpulens.runners.environment import environment, git_commit
from tpulens.runners.executors import ExecutorKind, LocalExecutor, RayExecutor, disk_full
from tpulens.runners.plan import Plan, build_plan

MEASURING_STAGES = ("evaluate", "detection_evaluate")  # what --remeasure runs again


@dataclass
class RunSummary:
    """What a run did, for the CLI's last line and the benchmark."""

    variants: int = 0
    up_to_date: int = 0
    written: int = 0
    failed: list = field(default_factory=list)  # (experiment/variant, status)
    steps_run: int = 0  # ran and finished now
    steps_cached: int = 0  # finished by an earlier run
    steps_failed: int = 0
    steps_skipped: int = 0  # cannot run here (StepSkipped)
    steps_blocked: int = 0  # not run: a step they need failed or was skipped
    seconds: float = 0.0
    stage_seconds: dict = field(default_factory=dict)  # stage → summed worker seconds
    cpu_seconds: float = 0.0  # CPU time of the steps run (what a quiet machine must do)


def default_dirs(suite_path: Path) -> tuple[Path, Path]:
    """(results dir, cache dir) next to benchmarks.toml."""
    root = suite_path.resolve().parent
    return root / "results", root / ".cache" / "tpulens"


def run_suite(suite_path: Path, profile: str = "default", jobs: int = 2,
              only: list[str] | None = None, results_dir: Path | None = None,
              cache_dir: Path | None = None, progress: bool = True,
              remeasure: bool = False, executor: ExecutorKind = ExecutorKind.LOCAL,
              address: str | None = None) -> RunSummary:
    """Bring the records of `suite_path` up to date. `executor` says where steps run: local
    worker processes (`jobs` of them) or Ray tasks (on the cluster at `address`)."""
    start = time.perf_counter()
    suite = config.load(suite_path)
    default_results, default_cache = default_dirs(Path(suite_path))
    results_dir = Path(results_dir or default_results)
    cache_dir = Path(cache_dir or default_cache)
    plan = build_plan(suite, profile, only)
    summary = RunSummary(variants=len(plan.variants))
    try:
        with cache.run_lock(cache_dir), records.results_lock(results_dir):
            restore.restore(plan, results_dir, cache_dir, MEASURING_STAGES if remeasure else ())
            stale = []
            for variant in plan.variants:
                existing = records.read_record(
                    records.record_path(results_dir, variant.experiment, variant.variant))
                if not remeasure and existing \
                        and existing.get("record_key") == variant.record_key \
                        and existing.get("status") == "ok":
                    summary.up_to_date += 1
                else:
                    stale.append(variant)
            if stale:
                run = records.start_run(results_dir, suite.path.parent, profile)
                runner = _Runner(plan, stale, results_dir, cache_dir, jobs, progress, summary,
                                 suite.path.parent, run, remeasure)
                runner.run(_executor(ExecutorKind(executor), runner.jobs, runner.threads,
                                     cache_dir, address))
                restore.remember(plan, runner.done, results_dir)
                records.finish_run(results_dir, suite.data)
    except OSError as err:
        if not disk_full(err):
            raise
        raise InputError(disk_full_message(err.filename or results_dir)) from None
    summary.seconds = round(time.perf_counter() - start, 2)
    return summary


def _executor(kind: ExecutorKind, jobs: int, threads: int, cache_dir: Path, address):
    if kind is ExecutorKind.RAY:
        return RayExecutor(threads, cache_dir, address)
    return LocalExecutor(jobs, threads, cache_dir)


def disk_full_message(where) -> str:
    return (f"{where}: no space left on device; the run stopped (finished steps stay cached: "
            "free some space and run again)")


class _Runner:
    """Schedules the steps the stale variants need and writes their records."""

    def __init__(self, plan: Plan, stale, results_dir, cache_dir, jobs, progress, summary,
                 repo_dir, run, remeasure=False):
        self.plan, self.stale, self.history_run = plan, stale, run
        self.results_dir, self.cache_dir = results_dir, cache_dir
        self.jobs = max(1, jobs)
        self.threads = max(1, (os.cpu_count() or 1) // self.jobs)
        self.progress, self.summary = progress, summary
        self.git_commit = git_commit(repo_dir)
        self.done: dict[str, dict] = {}  # key → manifest (outputs absolute)
        self.failed: dict[str, tuple[str, str]] = {}  # key → (status, note)
        self.by_name = {(v.experiment, v.variant): v for v in plan.variants}
        self.remeasured = {key for v in stale for key in v.steps.values()
                           if plan.nodes[key].stage in MEASURING_STAGES} if remeasure else set()

    def needed(self) -> list[str]:
        """Keys of every step the stale variants (and their baselines) depend on, in order."""
        wanted: list[str] = []

        def visit(key):
            if key in wanted:
                return
            for dep in self.plan.nodes[key].deps.values():
                visit(dep)
            wanted.append(key)

        for variant in self.stale:
            baseline = self._baseline(variant)
            for v in (variant, baseline) if baseline else (variant,):
                for key in v.steps.values():
                    visit(key)
        return wanted

    def run(self, executor) -> None:
        """Run what the cache lacks on `executor` (started only when some step must run)."""
        pending = []
        self.needed_keys = set(self.needed())
        self.priority = self._priorities()
        for key in self.needed():
            node = self.plan.nodes[key]
            manifest = None if key in self.remeasured else \
                cache.read_manifest(cache.step_dir(self.cache_dir, node.stage, key))
            if manifest is not None:
                self.done[key] = _absolute(manifest, self.cache_dir)
                self.summary.steps_cached += 1
            else:
                pending.append(key)
        written = set()
        self._write_ready_records(written)
        if pending:
            with executor:
                self._execute(executor, pending, written)
        self._write_ready_records(written)

    def _execute(self, executor, pending: list[str], written: set) -> None:
        from tqdm import tqdm

        bar = tqdm(total=len(pending), desc=f"tpulens run ({self.plan.profile})", unit="step",
                   disable=not self.progress, dynamic_ncols=True)
        running = {}
        try:
            while pending or running:
                self._propagate_failures(pending, bar)
                ready = sorted((k for k in pending if self._ready(k)),
                               key=lambda k: -self.priority[k])
                for key in ready:
                    if len(running) >= executor.slots:
                        break
                    pending.remove(key)
                    resources = executor.resources(self.plan.nodes[key].stage)
                    running[executor.submit(self._payload(key), resources)] = key
                if not running:
                    for key in pending:  # nothing can make these ready any more
                        self.failed[key] = ("failed", "blocked: a step it waits for "
                                                      "never finished")
                        self.summary.steps_blocked += 1
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    key = running.pop(future)
                    self._finish(key, future, bar)
                if any(isinstance(f.exception(), BrokenProcessPool) for f in finished):
                    self._give_up(pending + list(running.values()), bar)
                    break
                bar.set_postfix_str(", ".join(self.plan.nodes[k].label
                                              for k in running.values())[:60])
                self._write_ready_records(written)
        except BaseException:
            for future in running:
                future.cancel()
            executor.stop()
            raise
        finally:
            bar.close()

    def _priorities(self) -> dict[str, int]:
        """Steps that more steps wait for go first (training before evaluation), so both
        workers stay busy and the long chains start early."""
        dependents: dict[str, set] = {k: set() for k in self.needed_keys}
        for key in self.needed_keys:
            for dep in self.plan.nodes[key].deps.values():
                dependents[dep].add(key)

        memo: dict[str, set] = {}

        def below(key):
            if key not in memo:
                memo[key] = set().union(*[{d} | below(d) for d in dependents[key]])
            return memo[key]

        return {k: len(below(k)) for k in self.needed_keys}

    def _ready(self, key: str) -> bool:
        return all(d in self.done for d in self.plan.nodes[key].deps.values())

    def _give_up(self, keys: list[str], bar) -> None:
        """A worker died and took the pool with it: what has not finished cannot run now."""
        for key in keys:
            self.failed[key] = ("failed", "not run: a worker process died (out of memory?)")
            self.summary.steps_failed += 1
            bar.update(1)

    def _propagate_failures(self, pending: list[str], bar) -> None:
        changed = True
        while changed:
            changed = False
            for key in list(pending):
                bad = [d for d in self.plan.nodes[key].deps.values() if d in self.failed]
                if bad:
                    self.failed[key] = self.failed[bad[0]]
                    self.summary.steps_blocked += 1
                    pending.remove(key)
                    bar.update(1)
                    changed = True

    def _payload(self, key: str) -> dict:
        node = self.plan.nodes[key]
        return {"key": key, "stage": node.stage, "config": node.config, "label": node.label,
                "inputs": {role: self.done[dep] for role, dep in node.deps.items()},
                "cache_dir": str(self.cache_dir), "profile": self.plan.profile,
                "threads": self.threads, "remeasure": key in self.remeasured}

    def _finish(self, key: str, future, bar) -> None:
        node = self.plan.nodes[key]
        try:
            outcome = future.result()
        except Exception as err:  # a worker died (e.g. out of memory): record, go on
            outcome = {"status": "failed", "note": f"worker crashed: {err!r}"}
        bar.update(1)
        if outcome["status"] == "disk_full":
            raise InputError(disk_full_message(outcome["note"]))
        if outcome["status"] == "ok" and outcome.get("cached"):
            self.done[key] = _absolute(outcome["manifest"], self.cache_dir)
            self.summary.steps_cached += 1
        elif outcome["status"] == "ok":
            self.done[key] = _absolute(outcome["manifest"], self.cache_dir)
            self.summary.steps_run += 1
            stage = node.stage
            self.summary.stage_seconds[stage] = round(
                self.summary.stage_seconds.get(stage, 0.0) + outcome["manifest"]["seconds"], 3)
            self.summary.cpu_seconds = round(
                self.summary.cpu_seconds + outcome["manifest"]["cpu_seconds"], 3)
        else:
            self.failed[key] = (outcome["status"], outcome["note"])
            if outcome["status"] == "skipped":
                self.summary.steps_skipped += 1
            else:
                self.summary.steps_failed += 1
            bar.write(f"{outcome['status']}: {node.label}: {outcome['note']}")

    def _baseline(self, variant):
        return self.by_name.get((variant.experiment, variant.baseline)) if variant.baseline \
            else None

    def _write_ready_records(self, written: set) -> None:
        for variant in self.stale:
            name = (variant.experiment, variant.variant)
            if name in written:
                continue
            baseline = self._baseline(variant)
            keys = list(variant.steps.values()) + (list(baseline.steps.values()) if baseline
                                                   else [])
            if not all(k in self.done or k in self.failed for k in keys):
                continue
            steps = {role: self.done[k] for role, k in variant.steps.items() if k in self.done}
            failures = {role: self.failed[k] for role, k in variant.steps.items()
                        if k in self.failed}
            baseline_metrics = None
            if baseline and "evaluate" in baseline.steps and \
                    baseline.steps["evaluate"] in self.done:
                baseline_metrics = self.done[baseline.steps["evaluate"]]["metrics"]
            record = records.assemble(variant, steps, failures, baseline_metrics,
                                      self.results_dir, self.git_commit,
                                      environment(self.threads, None), self.plan.profile)
            records.write_record(self.results_dir, record, self.history_run)
            written.add(name)
            self.summary.written += 1
            if record["status"] != "ok":
                self.summary.failed.append((f"{name[0]}/{name[1]}", record["status"]))


def _absolute(manifest: dict, cache_dir: Path) -> dict:
    """Manifest outputs are stored relative to the cache dir; resolve them."""
    out = dict(manifest)
    out["outputs"] = {k: str(cache_dir / v) if v and not os.path.isabs(v) else v
                      for k, v in manifest.get("outputs", {}).items()}
    return out
