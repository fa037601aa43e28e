"""Where a run's steps execute: worker processes on this machine (the default, no extra
dependency) or tasks on a Ray cluster (`tpulens[ray]`).

Both take a step's payload and return a `concurrent.futures.Future` of its outcome, so the
scheduler in pipeline.py is the same for both: it keeps the dependency order, reads the cache,
drives the progress bar and writes the records; an executor only runs steps.

Artifacts move through the cache directory, never through Ray's object store: a step writes its
files under `<cache>/steps/` and its manifest last, the next step (on whatever node) reads them
by path, and the records point at them. So on a cluster the cache must be one path every node
and the machine running `tpulens run` see (NFS, a shared volume). That keeps the cache's
guarantees as they are (a finished step is one whose manifest exists; a step is built under its
file lock; a killed run resumes) and avoids copying models into and out of the object store.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from tpulens.errors import InputError
from tpulens.runners import cache

# Stages that fit Keras models: the ones a GPU speeds up.
TRAINING_STAGES = ("train", "optimize", "detection_train")
# Stages whose code imports TensorFlow (the others use LiteRT, the analyzer or nothing).
TENSORFLOW_STAGES = TRAINING_STAGES + ("convert", "detection_export", "detection_evaluate")


class ExecutorKind(StrEnum):
    LOCAL = "local"
    RAY = "ray"


@dataclass(frozen=True)
class Resources:
    """What one step asks of the machine that runs it (Ray schedules by it)."""

    cpus: int
    gpus: int = 0


def step_resources(stage: str, threads: int, gpu: bool) -> Resources:
    """A step uses its thread budget in CPUs; training steps also take a GPU when there is
    one and TensorFlow can use it."""
    return Resources(cpus=threads, gpus=1 if gpu and stage in TRAINING_STAGES else 0)


class LocalExecutor:
    """`jobs` spawned worker processes on this machine, quiet (their output goes to
    `<cache>/logs/`) and dying with the main process."""

    def __init__(self, jobs: int, threads: int, cache_dir: Path):
        self.slots, self.threads, self.cache_dir = jobs, threads, cache_dir
        self.pool = None

    def __enter__(self):
        import multiprocessing

        self.pool = ProcessPoolExecutor(
            self.slots, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.threads, str(self.cache_dir / "logs"), os.getpid()))
        return self

    def __exit__(self, *exc):
        self.pool.shutdown(wait=True, cancel_futures=True)

    def resources(self, stage: str) -> Resources:
        return step_resources(stage, self.threads, gpu=False)

    def submit(self, payload: dict, resources: Resources) -> Future:
        return self.pool.submit(execute, payload)

    def stop(self) -> None:
        """Kill the workers now (an interrupted run)."""
        for process in list(getattr(self.pool, "_processes", {}).values()):
            process.terminate()


class RayExecutor:
    """Each step a Ray task asking for its stage's resources. `address` is None (connect to the
    cluster named by RAY_ADDRESS, else start a local instance), "auto" (the cluster this
    machine belongs to) or "ray://HOST:PORT" (Ray Client). A Ray already initialised in this
    process (a test's `ray.init(num_cpus=2)`) is used as it is."""

    def __init__(self, threads: int, cache_dir: Path, address: str | None = None):
        self.threads, self.cache_dir, self.address = threads, cache_dir, address
        self.refs: list = []
        self.started = False
        self.gpu = False
        self.slots = 1

    def __enter__(self):
        try:
            import ray
        except ImportError:
            raise InputError("--executor ray needs Ray: pip install 'tpulens[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=self.address, log_to_driver=False, include_dashboard=False,
                     configure_logging=False)
            self.started = True
        total = ray.cluster_resources()
        self.gpu = total.get("GPU", 0) >= 1 and ray.get(
            ray.remote(_tensorflow_sees_a_gpu).options(num_gpus=1).remote(self.threads))
        # as many steps in flight as the cluster has room for: the scheduler keeps the rest
        # in its priority order rather than in Ray's queue
        self.slots = max(1, int(total.get("CPU", 1)) // self.threads)
        self.task = ray.remote(_ray_step)
        return self

    def __exit__(self, *exc):
        import ray

        if self.started:
            ray.shutdown()

    def resources(self, stage: str) -> Resources:
        return step_resources(stage, self.threads, self.gpu)

    def submit(self, payload: dict, resources: Resources) -> Future:
        ref = self.task.options(num_cpus=resources.cpus, num_gpus=resources.gpus,
                                name=payload["label"]).remote(payload, self.threads)
        self.refs.append(ref)
        return ref.future()

    def stop(self) -> None:
        import ray

        for ref in self.refs:
            ray.cancel(ref, force=True)


def _ray_step(payload: dict, threads: int) -> dict:
    """A Ray task: set the worker process up once (as the local pool's initializer does), then
    run the step."""
    if not getattr(_ray_step, "ready", False):
        _prepare(threads)
        _ray_step.ready = True
    return execute(payload)


def _tensorflow_sees_a_gpu(threads: int) -> bool:
    """Whether TensorFlow on a GPU node of the cluster can use its GPU (a GPU build, drivers
    working): training steps ask for a GPU only then."""
    from tpulens.runners import tfsetup

    _prepare(threads)
    try:
        return bool(tfsetup.import_tf().config.list_physical_devices("GPU"))
    except ImportError:
        return False


def _prepare(threads: int) -> None:
    """The worker's thread budget, set before TensorFlow is imported."""
    from tpulens.runners import tfsetup

    tfsetup.configure(threads)


def _import_tensorflow(stage: str) -> None:
    """Import TensorFlow before the first step that uses it, outside the step's timing; a
    worker that runs only other steps (an evaluation, a compilation) never loads it."""
    if stage in TENSORFLOW_STAGES:
        from tpulens.runners import tfsetup

        try:
            tfsetup.import_tf()
        except ImportError:
            pass  # the step will say so


def _init_worker(threads: int, log_dir: str, parent: int) -> None:
    """Quiet local worker that dies with the main process: native TF/LiteRT chatter goes to a
    per-worker log, not the progress bar."""
    _die_with_parent(parent)
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    log = os.open(Path(log_dir) / f"worker-{os.getpid()}.log",
                  os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    _prepare(threads)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this worker when the main process dies (kill -9 included), so no
    orphan finishes a step nobody waits for."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def disk_full(err: BaseException) -> bool:
    """No space (or quota) left, however the library that wrote reports it."""
    return getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or \
        "No space left on device" in str(err)


def execute(payload: dict) -> dict:
    """Run one step, under the step's lock; the manifest is written last and atomically. A
    step another process finished meanwhile is returned as cached, unless the payload asks to
    remeasure it."""
    from tpulens.runners.stages import StepSkipped

    cache_dir = Path(payload["cache_dir"])
    directory = cache.step_dir(cache_dir, payload["stage"], payload["key"])
    try:
        with cache.step_lock(directory):
            manifest = None if payload.get("remeasure") else cache.read_manifest(directory)
            if manifest is not None:
                return {"status": "ok", "manifest": manifest, "cached": True}
            return _run_step(payload, cache.fresh_dir(directory), cache_dir)
    except StepSkipped as err:
        return {"status": "skipped", "note": str(err)}
    except OSError as err:
        if disk_full(err):
            return {"status": "disk_full", "note": str(err.filename or directory)}
        raise


def _run_step(payload: dict, out_dir: Path, cache_dir: Path) -> dict:
    import traceback

    from tpulens.runners.stages import Context, StepSkipped, stage_module

    module = stage_module(payload["stage"])
    _import_tensorflow(payload["stage"])
    ctx = Context(cache_dir=cache_dir, profile=payload["profile"], threads=payload["threads"])
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        result = module.run(payload["config"], payload["inputs"], out_dir, ctx)
    except StepSkipped:
        raise
    except Exception as err:
        if disk_full(err):
            return {"status": "disk_full", "note": str(getattr(err, "filename", None) or out_dir)}
        (out_dir / "error.log").write_text(traceback.format_exc())
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return {"status": "failed", "note": f"{type(err).__name__}: {first[:300]} "
                                            f"(traceback: {out_dir / 'error.log'})"}
    manifest = {
        "key": payload["key"], "stage": payload["stage"], "label": payload["label"],
        "outputs": {k: _cache_relative(v, cache_dir) for k, v in result.outputs.items()},
        "metrics": result.metrics, "metric_info": result.metric_info, "notes": result.notes,
        "info": result.info, "seconds": round(time.perf_counter() - start, 3),
        "cpu_seconds": round(time.process_time() - cpu_start, 3),
    }
    cache.atomic_write_json(out_dir / cache.MANIFEST, manifest)
    return {"status": "ok", "manifest": manifest}


def _cache_relative(path: str, cache_dir: Path) -> str:
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(cache_dir.resolve()))
    except ValueError:
        return str(resolved)
