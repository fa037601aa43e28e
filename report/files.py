"""Reading files a results directory names, which may come from anyone (a pull request edits
results/): regular files only, of bounded size and nesting, inside the trees they may come from.

A FIFO must not block the build, a link to /dev/zero must not fill the memory, deeply nested
JSON must not end in RecursionError, and a record must not publish a model file from elsewhere
on the machine that builds the site.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

MAX_RECORD_BYTES = 16 * 1024 * 1024
MAX_ANALYSIS_BYTES = 16 * 1024 * 1024  # about 35,000 ops; real models have hundreds
MAX_MODEL_BYTES = 20_000_000  # default cap of a published .tflite (tpulens report --max-model-mb)
MAX_DEPTH = 64  # the contracts nest 5 levels; hand-written params a few more
MAX_DOCUMENTS = 1000  # analyses in one --analysis file; a batch of real models has dozens

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


@dataclass(frozen=True)
class ModelFiles:
    """Which model files the site publishes beside their pages, for download and Netron: none
    with `--no-models`, and none larger than `max_bytes` (GitHub Pages limits a site's size)."""

    publish: bool = True
    max_bytes: int = MAX_MODEL_BYTES

    def refusal(self, path: Path) -> str:
        """Why the model file at `path` is not published ("" when it is)."""
        if not self.publish:
            return "models are not published with this site (--no-models)"
        try:
            size = path.stat().st_size
        except OSError as err:
            return f"its file is unreadable ({err.strerror})"
        if size > self.max_bytes:
            return (
                f"its file ({size / 1e6:.1f} MB) is over the {self.max_bytes / 1e6:g} MB "
                "limit (tpulens report --max-model-mb)"
            )
        return ""


DEFAULT_MODEL_FILES = ModelFiles()


class Unusable(Exception):
    """Why a file cannot be used: the message follows '<file>: '."""


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. Opened non-blocking and checked on
    the open descriptor, so a FIFO is refused instead of waited on and a file swapped in after
    the check cannot be read past the limit."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError) as err:  # ValueError: a NUL byte in the path
        raise Unusable(f"unreadable ({getattr(err, 'strerror', None) or err})") from err
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise Unusable(f"not a regular file ({_KINDS.get(stat.S_IFMT(mode), 'special')})")
        data = file.read(limit + 1)
    if len(data) > limit:
        raise Unusable(f"larger than the {limit:,}-byte limit")
    return data


def read_json_object(path: Path, limit: int) -> tuple[bytes, dict]:
    """The raw bytes and the parsed object of a bounded JSON file."""
    raw = read_regular(path, limit)
    return raw, _json_object(_parse(raw))


def read_json_documents(path: Path, limit: int) -> list[dict]:
    """The JSON objects of a bounded file holding one object, an array of them or one per line
    (JSON Lines): what `tpulens analyze` writes with --json-array and, for several models,
    --json. At most MAX_DOCUMENTS, each held to MAX_DEPTH."""
    raw = read_regular(path, limit)
    try:
        data = _parse(raw)
    except Unusable as err:
        cause = err.__cause__
        if not (isinstance(cause, json.JSONDecodeError) and cause.msg == "Extra data"):
            raise
        lines = [(n, line) for n, line in enumerate(raw.splitlines(), 1) if line.strip()]
        return [_located(f"line {n}", line) for n, line in _bounded(lines)]
    if isinstance(data, list):
        return [_located(f"item {i} of the array", item) for i, item in enumerate(_bounded(data))]
    return [_json_object(data)]


def _bounded(documents: list) -> list:
    if len(documents) > MAX_DOCUMENTS:
        raise Unusable(f"more than {MAX_DOCUMENTS:,} JSON documents")
    return documents


def _located(where: str, document: bytes | object) -> dict:
    """One document of several, parsed if still bytes; its problem says where it is."""
    try:
        return _json_object(_parse(document) if isinstance(document, bytes) else document)
    except Unusable as err:
        raise Unusable(f"{where}: {err}") from err


def _parse(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except RecursionError as err:
        raise Unusable(f"JSON nested deeper than {MAX_DEPTH} levels") from err
    except ValueError as err:
        raise Unusable(f"unreadable ({err.__class__.__name__}: {err})") from err


def _json_object(data: object) -> dict:
    if not isinstance(data, dict):
        raise Unusable("not a JSON object")
    if too_deep(data, MAX_DEPTH):
        raise Unusable(f"JSON nested deeper than {MAX_DEPTH} levels")
    return data


def too_deep(value: object, limit: int) -> bool:
    """Whether lists and objects nest deeper than `limit`, walked level by level (no recursion
    to exhaust). Later steps (flattening params, printing options) recurse over what passes."""
    level = [value]
    for _ in range(limit):
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


def confined(base: Path, value: str, roots: tuple[Path, ...]) -> Path:
    """`value` (a path a JSON file names, relative to `base`) if it lies inside one of `roots`
    once every link is followed; otherwise Unusable."""
    if "\x00" in value:
        raise Unusable("a NUL byte in the path")
    try:
        path = (base / value).resolve()
    except (OSError, RuntimeError) as err:  # RuntimeError: a symlink loop
        raise Unusable(f"unresolvable ({err})") from err
    if not any(path.is_relative_to(root) for root in roots):
        raise Unusable(f"outside {' and '.join(str(r) for r in roots)}")
    return path
