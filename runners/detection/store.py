"""Cached, locked, atomic steps: variants run in separate processes at the same time, and the
dataset, the trained model and each export must be built exactly once.

`cached_file(path, build)`: take an fcntl lock beside the file, build into a temp file only
if the file is still missing once the lock is held, then rename: a crash leaves no half file
and a second process waits for the first instead of training again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path


def content_key(obj) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def source_key(*modules) -> str:
    """Hash of the modules' source, so changing the generator or the model invalidates caches."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:12]


def path_fingerprint(path: Path) -> str:
    """Identity of a user's file or directory tree from names, sizes and modification times,
    so editing one annotation invalidates what was trained on it."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    stats = [
        (str(p.relative_to(path.parent)), p.stat().st_size, p.stat().st_mtime_ns) for p in files
    ]
    return content_key([str(path.resolve()), stats])


@contextmanager
def locked(target: Path):
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_file(path: Path, build: Callable[[Path], None]) -> tuple[Path, bool]:
    """Return (path, built_now); `build(tmp_path)` writes the file's content to tmp_path."""
    with locked(path):
        if path.exists():
            return path, False
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            build(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path, True


def cached_dir(path: Path, build: Callable[[Path], None]) -> tuple[Path, bool]:
    """Like cached_file for a directory: built under a temp name, renamed when complete."""
    with locked(path):
        if path.is_dir():
            return path, False
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir(parents=True)
            build(tmp)
            os.replace(tmp, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return path, True
