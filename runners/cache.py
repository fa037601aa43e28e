"""Content keys, atomic writes, locks and step manifests in the artifact cache.

A step's directory is `<cache>/steps/<stage>-<key>/`; it is finished exactly when its
`manifest.json` exists, and that file is written last, atomically, so a killed run leaves
either a finished step or one that the next run redoes from scratch. A step is built under
its lock (`<cache>/locks/`), and a whole run holds `<cache>/run.lock`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tpulens.errors import InputError
from tpulens.safefs import replace_atomically

MANIFEST = "manifest.json"


def content_key(obj) -> str:
    """A stable hash of a JSON-able object (sorted keys), short enough for a path."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same directory and os.replace: never a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, data)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def step_dir(cache_dir: Path, stage: str, key: str) -> Path:
    return cache_dir / "steps" / f"{stage}-{key}"


def read_manifest(directory: Path) -> dict | None:
    """The finished step's manifest, or None when the step has not finished."""
    try:
        return json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def fresh_dir(directory: Path) -> Path:
    """An empty directory for a step that is about to run (leftovers of a killed run go)."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    return directory


@contextmanager
def timing_lock(cache_dir: Path) -> Iterator[None]:
    """One latency measurement at a time among a run's workers: two interpreters timed at once
    slow each other down (on two cores, a 3 ms model's median rose by about 5 %)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / "timing.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextmanager
def run_lock(cache_dir: Path) -> Iterator[None]:
    """Hold the cache for one run; a second run on the same cache stops at once with one line
    (rather than waiting silently, or doing every step twice)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / "run.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise InputError(f"{cache_dir}: another tpulens run (pid {holder}) is using this "
                             "cache; wait for it to finish, or pass another --cache-dir") \
                from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        yield


@contextmanager
def step_lock(directory: Path) -> Iterator[None]:
    """Build one step at a time: a process that wants a step another still builds waits."""
    locks = directory.parent.parent / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{directory.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
