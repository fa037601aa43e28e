"""Confined file access for the results store, the run cache and the site.

What these trees hold may come from anyone (a pull request edits results/), so every name read
from a record is checked before use: a path stays inside its root once `..` is applied, no
part of it below the root is a symbolic link, and only regular files of bounded size are read.
A FIFO must not block, a link to /dev/zero must not fill the memory, and a write or a delete
must never land outside the root.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
}
MAX_NAME = 200  # bytes of one path component a record may name (file systems allow 255)
_NAME = re.compile(r"[^\x00-\x1f/\\\x7f]+")


class Unusable(Exception):
    """Why a file cannot be used: the message follows '<file>: '."""


class Outside(Unusable):
    """The path leaves the root it must stay in: another root may still hold it."""


def _why(err: BaseException) -> str:
    return getattr(err, "strerror", None) or str(err)


def valid_name(value: object, what: str) -> str:
    """`value` if it can be one path component (a folder or file name taken from a record):
    a non-empty string with no slash, control character or surrogate, not `.` or `..`."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value in (".", ".."):
        raise Unusable(f"{what} {str(value)[:80]!r} is not a usable file name")
    try:
        size = len(value.encode())
    except UnicodeEncodeError:
        raise Unusable(f"{what} {value[:80]!r} is not a usable file name") from None
    if size > MAX_NAME:
        raise Unusable(f"{what} is longer than {MAX_NAME} bytes")
    return value


def kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def read_regular(path: Path, limit: int, follow: bool = True) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. Opened non-blocking and checked on
    the open descriptor before any read, so a FIFO or a directory is refused instead of waited
    on or read, and a file swapped in after the check cannot be read past the limit."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError) as err:  # ValueError: a NUL byte in the path
        if isinstance(err, OSError) and err.errno == 40:  # ELOOP: the name is a link
            raise Unusable("a symbolic link, not followed") from err
        raise Unusable(f"unreadable ({_why(err)})") from err
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise Unusable(f"not a regular file ({kind(mode)})")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as err:
        raise Unusable(f"unreadable ({_why(err)})") from err
    finally:
        os.close(fd)
    if size > limit:
        raise Unusable(f"larger than the {limit:,}-byte limit")
    return b"".join(chunks)


def link_free(root: Path, path: Path) -> Path:
    """`path` (absolute, already inside `root`) if no component below `root` is a symbolic
    link; a missing component ends the check (what does not exist yet cannot be a link)."""
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return path
        except (OSError, ValueError) as err:
            raise Unusable(f"unreadable ({_why(err)})") from err
        if stat.S_ISLNK(mode):
            raise Unusable(f"{current.relative_to(root).as_posix()} is a symbolic link, "
                           "not followed")
    return path


def replace_atomically(path: Path, data: bytes) -> None:
    """Write `data` to a temp file beside `path`, then rename it over `path`: a reader sees the
    old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:64]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Root:
    """A directory tree whose files are read, written and deleted only inside it."""

    path: Path  # absolute and resolved

    @classmethod
    def of(cls, path: Path) -> Root:
        return cls(Path(os.path.realpath(path)))

    def locate(self, value: str | Path, base: Path | None = None) -> Path:
        """The absolute path `value` names (relative to `base`, a folder inside the root as
        any path reaches it, or to the root), if it stays inside the root with no symbolic
        link on the way."""
        text = os.fspath(value)
        if not text or "\x00" in text:
            raise Unusable("an empty name or a NUL byte in the path")
        start = self.path if base is None else Path(os.path.realpath(base))
        joined = os.path.normpath(os.path.join(start, text))
        path = Path(joined)
        if not path.is_relative_to(self.path):
            raise Outside(f"outside {self.path}")
        for part in path.relative_to(self.path).parts:
            if len(os.fsencode(part)) > 255:
                raise Unusable("a path component longer than 255 bytes")
        return link_free(self.path, path)

    def read(self, value: str | Path, limit: int, base: Path | None = None) -> bytes:
        return read_regular(self.locate(value, base), limit, follow=False)

    def _mode(self, path: Path) -> int:
        """The lstat mode of `path` reached inside the root without links; 0 when there is
        nothing there or it cannot be reached."""
        try:
            self.locate(path)
            return os.lstat(path).st_mode
        except (Unusable, OSError, ValueError):
            return 0

    def is_file(self, path: Path) -> bool:
        """Whether `path` (inside the root) is a regular file reached without links."""
        return stat.S_ISREG(self._mode(path))

    def is_dir(self, path: Path) -> bool:
        """Whether `path` (inside the root) is a real directory reached without links."""
        return stat.S_ISDIR(self._mode(path))

    def mkdirs(self, path: Path) -> Path:
        """Make the folders of `path` (inside the root), refusing any that is a link."""
        path = self.locate(path)
        current = self.path
        for part in path.relative_to(self.path).parts:
            current = current / part
            try:
                os.mkdir(current)
            except FileExistsError:
                pass
            except OSError as err:
                raise Unusable(f"cannot make {current} ({_why(err)})") from err
            mode = os.lstat(current).st_mode
            if not stat.S_ISDIR(mode):
                raise Unusable(f"{current.relative_to(self.path).as_posix()} is "
                               f"{kind(mode)}, not a folder")
        return path

    def write_bytes(self, value: str | Path, data: bytes, base: Path | None = None) -> Path:
        """Write atomically (a temp file beside it, then rename) at a path inside the root."""
        path = self.locate(value, base)
        if path == self.path:
            raise Unusable("the root itself is not a file")
        self.mkdirs(path.parent)
        replace_atomically(path, data)
        return path

    def unlink(self, path: Path) -> bool:
        """Delete a regular file inside the root, never through or at a link; False when
        there is none to delete."""
        if not self.is_file(path):
            return False
        try:
            os.unlink(path)
            return True
        except OSError:
            return False

    def rmdir(self, path: Path) -> bool:
        """Remove an empty real folder inside the root (never its contents, never a link)."""
        if path == self.path or not self.is_dir(path):
            return False
        try:
            os.rmdir(path)
            return True
        except OSError:
            return False

    def files(self, pattern: str) -> list[Path]:
        """Regular files matching a glob `pattern` that really lie in the root (no part of the
        path a link), sorted."""
        found = []
        try:
            matches = sorted(self.path.glob(pattern))
        except OSError:
            return []
        for path in matches:
            if self.is_file(path):
                found.append(path)
        return found

    def folders(self, pattern: str) -> list[Path]:
        """Real folders matching `pattern` inside the root, sorted."""
        try:
            matches = sorted(self.path.glob(pattern))
        except OSError:
            return []
        return [p for p in matches if self.is_dir(p)]


def load_json(raw: bytes) -> object:
    """JSON as values any later step can print and compare: a lone surrogate (valid JSON, not
    encodable as UTF-8) becomes "?", and an integer past the float range becomes ±inf,
    which every reader drops like other non-finite numbers. Raises what json.loads raises."""
    data = json.loads(raw, parse_int=_int)
    return _without_surrogates(data) if _SURROGATE.search(raw) else data


_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")  # escaped or raw bytes
_LONE = re.compile("[\ud800-\udfff]")
_FLOAT_DIGITS = 308  # 10**308 is about the largest float


def _int(text: str) -> int | float:
    if len(text.lstrip("-")) <= _FLOAT_DIGITS:
        return int(text)
    return -math.inf if text.startswith("-") else math.inf


def _clean(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8") if _LONE.search(text) else text


def _without_surrogates(value: object) -> object:
    """`value` with every string (keys too) re-encoded, walked without recursion."""
    root = [value]
    stack = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, str):
            container[key] = _clean(item)
        elif isinstance(item, list):
            stack.extend((item, i) for i in range(len(item)))
        elif isinstance(item, dict):
            cleaned = {_clean(k): v for k, v in item.items()}
            item.clear()
            item.update(cleaned)
            stack.extend((item, k) for k in item)
    return root[0]
