"""A minimal, bounds-checked flatbuffer table reader over a memory map.

Only what reading TFLite models needs: scalars, strings, tables and vectors of them. Every
offset is checked against the buffer, so a damaged file raises FlatbufferError instead of
reading garbage, looping for ever or allocating gigabytes. Entries may point at one shared
string or vector, so a small file could stand for gigabytes once read: every string and
vector read is counted against a budget proportional to the file, and a file that would
expand past it is refused.

A vtable (the field offsets a table starts from) is decoded once per file and shared by every
table that points at it: a converter writes one vtable for all tensors of the same shape of
fields, so a model's thousands of tables read a handful of vtables.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U16 = struct.Struct("<H")
_SIZES = {"?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "q": 8, "Q": 8, "f": 4, "d": 8}


class FlatbufferError(ValueError):
    """The bytes are not a well-formed flatbuffer (bad offset, length past the end…)."""


_VECTOR_STRUCTS: dict[tuple[int, str], struct.Struct] = {}
_SCALAR_STRUCTS = {fmt: struct.Struct("<" + fmt) for fmt in _SIZES}


def _vector_struct(count: int, fmt: str) -> struct.Struct:
    key = (count, fmt)
    found = _VECTOR_STRUCTS.get(key)
    if found is None:
        found = _VECTOR_STRUCTS[key] = struct.Struct(f"<{count}{fmt}")
    return found


EXPANSION_FACTOR = 4  # a file read once reads each byte once; sharing reads some many times
EXPANSION_FLOOR = 8 * 1024 * 1024


class Budget:
    """The bytes of strings and vectors the tables of one file may still read, and the
    vtables already decoded (by position)."""

    __slots__ = ("left", "limit", "vtables")

    def __init__(self, size: int):
        self.limit = self.left = EXPANSION_FLOOR + EXPANSION_FACTOR * size
        self.vtables: dict[int, tuple[int, ...]] = {}

    def spend(self, amount: int) -> None:
        self.left -= amount
        if self.left < 0:
            raise FlatbufferError(
                f"shared strings or vectors expand past {self.limit:,} bytes when read "
                f"({EXPANSION_FACTOR}x the file plus {EXPANSION_FLOOR // 2**20} MiB)")


def _vtable(buf, vtable: int, end: int, budget: Budget) -> tuple[int, ...]:
    """A vtable's 16-bit words: its size, its table's size, then each field's offset from
    the table's start (0: absent). Counted against the budget like a vector of ints."""
    if vtable < 0 or vtable + 4 > end:
        raise FlatbufferError(f"vtable offset {vtable} outside the file")
    size = _U16.unpack_from(buf, vtable)[0]
    if vtable + size > end:
        raise FlatbufferError(f"vtable at {vtable} runs past the end of the file")
    words = (size + 1) // 2
    if vtable + 2 * words > end:
        raise FlatbufferError(f"vtable at {vtable} runs past the end of the file")
    budget.spend(4 * words)
    found = budget.vtables[vtable] = _vector_struct(words, "H").unpack_from(buf, vtable)
    return found


class Table:
    """One flatbuffer table: `buf` is any bytes-like object, `pos` the table's start. Tables
    reached from one another share one Budget."""

    __slots__ = ("buf", "pos", "end", "budget", "_words")

    def __init__(self, buf, pos: int, end: int | None = None, budget: Budget | None = None):
        self.buf = buf
        self.pos = pos
        self.end = end = len(buf) if end is None else end
        self.budget = budget = budget or Budget(end)
        if pos < 0 or pos + 4 > end:
            raise FlatbufferError(f"table offset {pos} outside the file ({end} bytes)")
        vtable = pos - _I32.unpack_from(buf, pos)[0]
        words = budget.vtables.get(vtable)
        self._words = words if words is not None else _vtable(buf, vtable, end, budget)

    def scalar(self, slot: int, fmt: str, default=0):
        words = self._words
        index = slot >> 1
        rel = words[index] if index < len(words) else 0
        if not rel:
            return default
        pos = self.pos + rel
        if pos + _SIZES[fmt] > self.end:
            raise FlatbufferError(f"scalar at {pos} runs past the end of the file")
        return _SCALAR_STRUCTS[fmt].unpack_from(self.buf, pos)[0]

    def _indirect(self, slot: int) -> int:
        """Where the offset at `slot` points; 0 when the field is absent."""
        words = self._words
        index = slot >> 1
        rel = words[index] if index < len(words) else 0
        if not rel:
            return 0
        pos = self.pos + rel
        if pos + 4 > self.end:
            raise FlatbufferError(f"offset at {pos} runs past the end of the file")
        return pos + _U32.unpack_from(self.buf, pos)[0]

    def table(self, slot: int) -> Table | None:
        pos = self._indirect(slot)
        return Table(self.buf, pos, self.end, self.budget) if pos else None

    def _vector(self, slot: int, elem_size: int) -> tuple[int, int]:
        """(start of the elements, element count); (0, 0) when the field is absent."""
        pos = self._indirect(slot)
        if not pos:
            return 0, 0
        end = self.end
        if pos + 4 > end:
            raise FlatbufferError(f"vector at {pos} outside the file")
        count = _U32.unpack_from(self.buf, pos)[0]
        if pos + 4 + count * elem_size > end:
            raise FlatbufferError(f"vector of {count} items at {pos} runs past the end")
        return pos + 4, count

    def string(self, slot: int) -> str | None:
        start, count = self._vector(slot, 1)
        if not start:
            return None
        self.budget.spend(count)
        return self.buf[start:start + count].decode("utf-8", "replace")

    def scalars(self, slot: int, fmt: str) -> tuple | None:
        """A vector of scalars as a tuple, or None when the field is absent."""
        size = _SIZES[fmt]
        start, count = self._vector(slot, size)
        if not start:
            return None
        self.budget.spend(count * size)
        return _vector_struct(count, fmt).unpack_from(self.buf, start)

    def byte_span(self, slot: int) -> tuple[int, int]:
        """(offset, length) of a byte vector, without copying it."""
        return self._vector(slot, 1)

    def tables(self, slot: int) -> Iterator[Table]:
        """The tables of a vector, one at a time: a damaged entry stops the reading there."""
        start, count = self._vector(slot, 4)
        buf, end, budget = self.buf, self.end, self.budget
        budget.spend(4 * count)
        for pos in range(start, start + 4 * count, 4):
            yield Table(buf, pos + _U32.unpack_from(buf, pos)[0], end, budget)


def root(buf, identifier: bytes | None = None) -> Table:
    """The root table; checks the 4-byte file identifier when one is given."""
    if len(buf) < 8:
        raise FlatbufferError(f"only {len(buf)} bytes, too short for a flatbuffer")
    if identifier is not None and bytes(buf[4:8]) != identifier:
        raise FlatbufferError(
            f"file identifier is {bytes(buf[4:8])!r}, expected {identifier!r}")
    return Table(buf, _U32.unpack_from(buf, 0)[0])
