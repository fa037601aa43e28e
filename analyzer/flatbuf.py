"""A minimal, bounds-checked flatbuffer table reader over a memory map.

Only what reading TFLite models needs: scalars, strings, tables and vectors of them. Every
offset is checked against the buffer, so a damaged file raises FlatbufferError instead of
reading garbage, looping for ever or allocating gigabytes. Entries may point at one shared
string or vector, so a small file could stand for gigabytes once read: every string and
vector read is counted against a budget proportional to the file, and a file that would
expand past it is refused.

A vtable (the field offsets a table starts from) is decoded once per file and shared by every
table that points at it: a converter writes one vtable for all tensors of the same shape of
fields, so a model's thousands of tables read a handful of vtables. What a vtable means for
the fields read from a kind of table (a Layout) is worked out once too, so each of thousands
of tensors is read with one unpack and a bounds check.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from operator import add, itemgetter
from typing import NamedTuple

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U16 = struct.Struct("<H")
_SIZES = {"?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "q": 8, "Q": 8, "f": 4, "d": 8}


class FlatbufferError(ValueError):
    """The bytes are not a well-formed flatbuffer (bad offset, length past the end…)."""


_SCALAR_STRUCTS = {fmt: struct.Struct("<" + fmt) for fmt in _SIZES}


@lru_cache(maxsize=1024)
def _vector_struct(count: int, fmt: str) -> struct.Struct:
    """What unpacks `count` items: kept for the lengths met most, but only so many, as each
    file may bring lengths of its own."""
    return struct.Struct(f"<{count}{fmt}")


# What unpacks a short vector of int32s: shapes and an op's inputs and outputs, read for every
# tensor and op, are nearly all that short, and a tuple index costs a fraction of a call to the
# cache above.
_SHORT = 16
_SHORT_INT32_VECTORS = tuple(struct.Struct(f"<{count}i") for count in range(_SHORT))

EXPANSION_FACTOR = 4  # a file read once reads each byte once; sharing reads some many times
EXPANSION_FLOOR = 8 * 1024 * 1024


class Budget:
    """The bytes of strings and vectors the tables of one file may still read, and what was
    worked out for the file already: its vtables, and their layouts for each set of Fields,
    by vtable position."""

    __slots__ = ("left", "limit", "vtables", "layouts")

    def __init__(self, size: int):
        self.limit = self.left = EXPANSION_FLOOR + EXPANSION_FACTOR * size
        self.vtables: dict[int, tuple[int, ...]] = {}
        self.layouts: dict[Fields, dict[int, Layout]] = {}

    def spend(self, amount: int) -> None:
        self.left -= amount
        if self.left < 0:
            self.refuse()

    def refuse(self) -> None:
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


def _vtable_of(buf, pos: int, end: int) -> int:
    """Where the vtable of the table at `pos` is."""
    if pos < 0 or pos + 4 > end:
        raise FlatbufferError(f"table offset {pos} outside the file ({end} bytes)")
    return pos - _I32.unpack_from(buf, pos)[0]


def _words(buf, vtable: int, end: int, budget: Budget) -> tuple[int, ...]:
    words = budget.vtables.get(vtable)
    return words if words is not None else _vtable(buf, vtable, end, budget)


def _vector_at(buf, pos: int, end: int, item_size: int) -> tuple[int, int]:
    """(start of the elements, element count) of the vector at `pos`."""
    start = pos + 4
    if start > end:
        raise FlatbufferError(f"vector at {pos} outside the file")
    count = _U32.unpack_from(buf, pos)[0]
    if start + count * item_size > end:
        raise FlatbufferError(f"vector of {count} items at {pos} runs past the end")
    return start, count


# What an offset field leads to, read from where it points: (buf, position, end, budget,
# format of the items) -> value. Strings and vectors of scalars are most of a model's reading
# (names, shapes, op inputs and outputs), so they are checked and counted without further calls,
# and each position is added up once: a position past 256 is a new int object at every sum.

def _string_at(buf, pos: int, end: int, budget: Budget, fmt: str) -> str:
    start = pos + 4
    if start > end:
        raise FlatbufferError(f"vector at {pos} outside the file")
    count = _U32.unpack_from(buf, pos)[0]
    stop = start + count
    if stop > end:
        raise FlatbufferError(f"vector of {count} items at {pos} runs past the end")
    budget.left -= count
    if budget.left < 0:
        budget.refuse()
    return buf[start:stop].decode("utf-8", "replace")


def _scalars_at(buf, pos: int, end: int, budget: Budget, fmt: str) -> tuple:
    start = pos + 4
    if start > end:
        raise FlatbufferError(f"vector at {pos} outside the file")
    count = _U32.unpack_from(buf, pos)[0]
    size = count * _SIZES[fmt]
    if start + size > end:
        raise FlatbufferError(f"vector of {count} items at {pos} runs past the end")
    budget.left -= size
    if budget.left < 0:
        budget.refuse()
    if fmt == "i" and count < _SHORT:
        return _SHORT_INT32_VECTORS[count].unpack_from(buf, start)
    return _vector_struct(count, fmt).unpack_from(buf, start)


def _span_at(buf, pos: int, end: int, budget: Budget, fmt: str) -> tuple[int, int]:
    return _vector_at(buf, pos, end, 1)


def _table_at(buf, pos: int, end: int, budget: Budget, fmt: str) -> int:
    _words(buf, _vtable_of(buf, pos, end), end, budget)
    return pos


def _offset_at(buf, pos: int, end: int, budget: Budget, fmt: str) -> int:
    return pos


class Field(NamedTuple):
    """One field to read: its slot, the format of its scalar (or of its vector's items), its
    value when absent, and for an offset field what reads the place it points at."""
    slot: int
    fmt: str
    default: object = 0
    follow: Callable | None = None


def scalar(slot: int, fmt: str, default=0) -> Field:
    return Field(slot, fmt, default)


def string(slot: int) -> Field:
    """A string, None when absent."""
    return Field(slot, "B", None, _string_at)


def scalars(slot: int, fmt: str, default=None) -> Field:
    """A vector of scalars as a tuple."""
    return Field(slot, fmt, default, _scalars_at)


def byte_span(slot: int) -> Field:
    """(offset, length) of a byte vector, without copying it; (0, 0) when absent."""
    return Field(slot, "B", (0, 0), _span_at)


def table(slot: int) -> Field:
    """Where a table is, checked as a Table's start is; None when absent."""
    return Field(slot, "", None, _table_at)


def offset(slot: int) -> Field:
    """Where an offset points, unchecked until read; 0 when absent."""
    return Field(slot, "", 0, _offset_at)


class Fields:
    """The fields read from each table of one kind, in the order they are returned, and the
    vtable word that places each."""

    __slots__ = ("fields", "words")

    def __init__(self, *fields: Field):
        self.fields = fields
        self.words = tuple(f.slot >> 1 for f in fields)

    def offsets(self, words: tuple[int, ...]) -> tuple[int, ...]:
        """Where a vtable puts each field from its table's start (0: absent)."""
        count = len(words)
        return tuple(words[i] if i < count else 0 for i in self.words)


class Layout:
    """Where one vtable puts a set of Fields: one unpack reads every present scalar and offset
    in the order they lie in the table, absent fields take their default, and `follow` says
    where each offset field leads (its place among the values, its offset in the table, what
    reads it and the format of its items). Table.read_tables reads through it."""

    __slots__ = ("unpack", "size", "pick", "absent", "follow")

    def __init__(self, offsets: tuple[int, ...], fields: Fields):
        each = fields.fields
        present, absent = [], []  # (offset in the table, field index), field index
        for i, rel in enumerate(offsets):
            if rel:
                present.append((rel, i))
            else:
                absent.append(i)
        present.sort()
        codes = [(rel, "I" if each[i].follow else each[i].fmt) for rel, i in present]
        self.size = max((rel + _SIZES[code] for rel, code in codes), default=0)
        self.unpack = _unpacker(codes)
        self.absent = tuple(each[i].default for i in absent)
        places = [i for _, i in present] + absent
        self.pick = _picker([places.index(i) for i in range(len(each))])
        self.follow = [(place, rel, each[i].follow, each[i].fmt)
                       for place, (rel, i) in enumerate(present) if each[i].follow]


def _unpacker(codes: list[tuple[int, str]]) -> Callable[[object, int], tuple]:
    """What reads every (offset, format) from a table's start: one struct, or one struct per
    field when fields overlap (only in a damaged file)."""
    fmt, at = "<", 0
    for rel, code in codes:
        if rel < at:
            fields = [struct.Struct(f"<{place}x{item}") for place, item in codes]
            return lambda buf, pos: tuple(field.unpack_from(buf, pos)[0] for field in fields)
        fmt += f"{rel - at}x{code}"
        at = rel + _SIZES[code]
    return struct.Struct(fmt).unpack_from


def _picker(order: list[int]) -> Callable[[Sequence], tuple]:
    """What takes the items at `order` from a sequence, as a tuple even for one or none."""
    if len(order) > 1:
        return itemgetter(*order)
    if order:
        (only,) = order
        return lambda values: (values[only],)
    return lambda values: ()


class Table:
    """One flatbuffer table: `buf` is any bytes-like object, `pos` the table's start. Tables
    reached from one another share one Budget."""

    __slots__ = ("buf", "pos", "end", "budget", "_words")

    def __init__(self, buf, pos: int, end: int | None = None, budget: Budget | None = None):
        self.buf = buf
        self.pos = pos
        self.end = end = len(buf) if end is None else end
        self.budget = budget = budget or Budget(end)
        self._words = _words(buf, _vtable_of(buf, pos, end), end, budget)

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

    def _vector(self, slot: int, elem_size: int) -> tuple[int, int]:
        """(start of the elements, element count); (0, 0) when the field is absent."""
        pos = self._indirect(slot)
        return _vector_at(self.buf, pos, self.end, elem_size) if pos else (0, 0)

    def string(self, slot: int) -> str | None:
        pos = self._indirect(slot)
        return _string_at(self.buf, pos, self.end, self.budget, "B") if pos else None

    def scalars(self, slot: int, fmt: str) -> tuple | None:
        """A vector of scalars as a tuple, or None when the field is absent."""
        pos = self._indirect(slot)
        return _scalars_at(self.buf, pos, self.end, self.budget, fmt) if pos else None

    def byte_span(self, slot: int) -> tuple[int, int]:
        """(offset, length) of a byte vector, without copying it."""
        return self._vector(slot, 1)

    def positions(self, slot: int) -> list[int]:
        """Where each table of the vector at `slot` starts, all inside the file."""
        start, count = self._vector(slot, 4)
        self.budget.spend(4 * count)
        offsets = _vector_struct(count, "I").unpack_from(self.buf, start)
        positions = list(map(add, range(start, start + 4 * count, 4), offsets))
        if max(positions, default=0) + 4 > self.end:
            outside = next(pos for pos in positions if pos + 4 > self.end)
            raise FlatbufferError(f"table offset {outside} outside the file ({self.end} bytes)")
        return positions

    def tables(self, slot: int) -> Iterator[Table]:
        """The tables of a vector, one at a time. An entry outside the file is refused before
        any table is read; a table whose vtable is damaged stops the reading there."""
        buf, end, budget = self.buf, self.end, self.budget
        return (Table(buf, pos, end, budget) for pos in self.positions(slot))

    def read_at(self, pos: int, fields: Fields) -> tuple:
        """The values of `fields` in the table at `pos` of this table's file."""
        if pos + 4 > self.end:
            raise FlatbufferError(f"table offset {pos} outside the file ({self.end} bytes)")
        return self.read_tables((pos,), fields)[0]

    def read_tables(self, positions: Iterable[int], fields: Fields) -> list[tuple]:
        """The values of `fields` in the tables at `positions` of this table's file (each with
        its first 4 bytes inside the file, as positions() checks), in the order of `fields`,
        without a Table object or a call for each of thousands of tables."""
        buf, end, budget = self.buf, self.end, self.budget
        layouts = budget.layouts.setdefault(fields, {})  # those of `fields` in this file
        rows = []
        for pos in positions:  # a position is never negative: offsets are unsigned
            vtable = pos - _I32.unpack_from(buf, pos)[0]
            layout = layouts.get(vtable)
            if layout is None:
                offsets = fields.offsets(_words(buf, vtable, end, budget))
                layout = layouts[vtable] = _layout_of(offsets, fields)
            if pos + layout.size > end:
                raise FlatbufferError(f"table at {pos} runs past the end of the file")
            if not layout.follow:
                rows.append(layout.pick(layout.unpack(buf, pos) + layout.absent))
                continue
            values = [*layout.unpack(buf, pos), *layout.absent]  # in the table's order
            for i, rel, follow, fmt in layout.follow:
                values[i] = follow(buf, pos + rel + values[i], end, budget, fmt)
            rows.append(layout.pick(values))
        return rows


@lru_cache(maxsize=1024)
def _layout_of(offsets: tuple[int, ...], fields: Fields) -> Layout:
    """Layouts are kept across files, as every model a converter writes has the same few
    vtables, but only so many: a file made with a vtable for each table is just slower. They
    are kept by where the fields are, a few words however long the vtable."""
    return Layout(offsets, fields)


def root(buf, identifier: bytes | None = None) -> Table:
    """The root table; checks the 4-byte file identifier when one is given."""
    if len(buf) < 8:
        raise FlatbufferError(f"only {len(buf)} bytes, too short for a flatbuffer")
    if identifier is not None and bytes(buf[4:8]) != identifier:
        raise FlatbufferError(
            f"file identifier is {bytes(buf[4:8])!r}, expected {identifier!r}")
    return Table(buf, _U32.unpack_from(buf, 0)[0])
