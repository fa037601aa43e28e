"""Content keys, atomic writes and step manifests in the artifact cache.

A step's directory is `<cache>/steps/<stage>-<key>/`; it is finished exactly when its
`manifest.json` exists, and that file is written last, atomically, so a killed run leaves
either a finished step or one that the next run redoes from scratch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

MANIFEST = "manifest.json"


def content_key(obj) -> str:
    """A stable hash of a JSON-able object (sorted keys), short enough for a path."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def file_fingerprint(path: Path) -> dict:
    """Identity of an input file without reading it: path, size and modification time."""
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def tree_fingerprint(paths: list[Path]) -> str:
    """Hash of the contents of source files (for code whose changes must invalidate a step)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same directory and os.replace: never a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
