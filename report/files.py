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

from tpulens import safefs

# The site holds a results store's files to the store's own limits (re-exported for its readers).
from tpulens.history.store import MAX_ANALYSIS_BYTES as MAX_ANALYSIS_BYTES
from tpulens.history.store import MAX_RECORD_BYTES as MAX_RECORD_BYTES

MAX_MODEL_BYTES = 20_000_000  # default cap of a published .tflite (tpulens report --max-model-mb)
MAX_DEPTH = 64  # the contracts nest 5 levels; hand-written params a few more
MAX_DOCUMENTS = 1000  # analyses in one --analysis file; a batch of real models has dozens


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


Unusable = safefs.Unusable


def read_regular(path: Path, limit: int, follow: bool = False) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (tpulens.safefs.read_regular); a
    file that is itself a symbolic link is refused unless `follow` (a file the user named)."""
    return safefs.read_regular(path, limit, follow)


def read_json_object(path: Path, limit: int, follow: bool = False) -> tuple[bytes, dict]:
    """The raw bytes and the parsed object of a bounded JSON file."""
    raw = read_regular(path, limit, follow)
    return raw, _json_object(_parse(raw))


def read_json_documents(path: Path, limit: int) -> list[dict]:
    """The JSON objects of a bounded file holding one object, an array of them or one per line
    (JSON Lines): what `tpulens analyze` writes with --json-array and, for several models,
    --json. At most MAX_DOCUMENTS, each held to MAX_DEPTH. The user named it: a link is
    followed."""
    raw = read_regular(path, limit, follow=True)
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
        return safefs.load_json(raw)
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
    (resolved folders) with no symbolic link below the root; otherwise Unusable."""
    for root in roots:
        try:
            return safefs.Root(root).locate(value, base)
        except safefs.Outside:
            continue
    raise safefs.Outside(f"outside {' and '.join(str(r) for r in roots)}")


def is_file(path: Path) -> bool:
    """Whether `path` is a regular file itself (a link is not followed); never raises."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except (OSError, ValueError):
        return False


