"""A small, bounds-checked FlexBuffers decoder for the custom options of compiled models.

The Edge TPU custom op stores its options (version, the serialized DarwiNN package, chip ids…)
as a FlexBuffers map. `flatbuffers.flexbuffers` decodes it but trusts every offset and length;
a damaged file must give a clear error instead, so this reader checks each one against the
buffer and never copies blobs: strings and blobs come back as memoryview slices.
"""

from __future__ import annotations

import struct

# Value types of the FlexBuffers format (flatbuffers/flexbuffers.h).
NULL, INT, UINT, FLOAT, KEY, STRING = 0, 1, 2, 3, 4, 5
INDIRECT_INT, INDIRECT_UINT, INDIRECT_FLOAT = 6, 7, 8
MAP, VECTOR, VECTOR_INT, VECTOR_UINT, VECTOR_FLOAT, VECTOR_KEY = 9, 10, 11, 12, 13, 14
VECTOR_STRING_DEPRECATED = 15
BLOB, BOOL, VECTOR_BOOL = 25, 26, 36
_TYPED_VECTORS = {VECTOR_INT: INT, VECTOR_UINT: UINT, VECTOR_FLOAT: FLOAT, VECTOR_KEY: KEY,
                  VECTOR_STRING_DEPRECATED: STRING, VECTOR_BOOL: BOOL}
# VECTOR_INT2 … VECTOR_FLOAT4: fixed-length typed vectors without a size field.
_FIXED_VECTORS = {16 + 3 * (n - 2) + k: ((INT, UINT, FLOAT)[k], n)
                  for n in (2, 3, 4) for k in range(3)}
_MAX_DEPTH = 32
_MAX_VALUES = 1_000_000  # shared offsets could otherwise make decoding explode


class FlexBufferError(ValueError):
    """The bytes are not a well-formed FlexBuffer."""


class _Reader:
    def __init__(self, buf):
        self.buf = memoryview(buf)
        self.size = len(self.buf)
        self.budget = _MAX_VALUES

    def _check(self, pos: int, length: int) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise FlexBufferError(f"{length} bytes at {pos} outside the {self.size}-byte buffer")

    def uint(self, pos: int, width: int) -> int:
        self._check(pos, width)
        return int.from_bytes(self.buf[pos:pos + width], "little")

    def int(self, pos: int, width: int) -> int:
        self._check(pos, width)
        return int.from_bytes(self.buf[pos:pos + width], "little", signed=True)

    def float(self, pos: int, width: int) -> float:
        if width not in (4, 8):
            raise FlexBufferError(f"float of width {width} at {pos}")
        self._check(pos, width)
        return struct.unpack_from("<f" if width == 4 else "<d", self.buf, pos)[0]

    def indirect(self, pos: int, width: int) -> int:
        target = pos - self.uint(pos, width)
        self._check(target, 0)
        return target

    def cstring(self, pos: int) -> str:
        """A NUL-terminated key; keys longer than 1 KiB are treated as damage."""
        self._check(pos, 0)
        end = bytes(self.buf[pos:pos + 1024]).find(b"\0")
        if end < 0:
            raise FlexBufferError(f"key at {pos} is not NUL-terminated")
        return bytes(self.buf[pos:pos + end]).decode("utf-8", "replace")

    def sized(self, pos: int, width: int, elem: int = 1) -> tuple[int, int]:
        """(start, count) of a length-prefixed element run at `pos`."""
        count = self.uint(pos - width, width)
        self._check(pos, count * elem)
        return pos, count

    def value(self, pos: int, parent_width: int, packed: int, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise FlexBufferError("nesting deeper than 32 levels")
        self.budget -= 1
        if self.budget < 0:
            raise FlexBufferError(f"more than {_MAX_VALUES} values: damaged offsets")
        kind, width = packed >> 2, 1 << (packed & 3)
        if kind == NULL:
            return None
        if kind == INT:
            return self.int(pos, parent_width)
        if kind == UINT:
            return self.uint(pos, parent_width)
        if kind == BOOL:
            return bool(self.uint(pos, parent_width))
        if kind == FLOAT:
            return self.float(pos, parent_width)
        target = self.indirect(pos, parent_width)
        if kind == INDIRECT_INT:
            return self.int(target, width)
        if kind == INDIRECT_UINT:
            return self.uint(target, width)
        if kind == INDIRECT_FLOAT:
            return self.float(target, width)
        if kind == KEY:
            return self.cstring(target)
        if kind in (STRING, BLOB):
            start, count = self.sized(target, width)
            return self.buf[start:start + count]
        if kind == MAP:
            return self.map(target, width, depth)
        if kind == VECTOR:
            start, count = self.sized(target, width, width + 1)
            types = start + count * width
            return [self.value(start + i * width, width, self.uint(types + i, 1), depth + 1)
                    for i in range(count)]
        if kind in _TYPED_VECTORS:
            start, count = self.sized(target, width, width)
            return self._typed(start, count, width, _TYPED_VECTORS[kind], depth)
        if kind in _FIXED_VECTORS:
            elem_kind, count = _FIXED_VECTORS[kind]
            self._check(target, count * width)
            return self._typed(target, count, width, elem_kind, depth)
        raise FlexBufferError(f"unknown FlexBuffer type {kind} at {pos}")

    def _typed(self, start: int, count: int, width: int, elem_kind: int, depth: int) -> list:
        packed = (elem_kind << 2) | (width.bit_length() - 1)
        return [self.value(start + i * width, width, packed, depth + 1) for i in range(count)]

    def map(self, pos: int, width: int, depth: int) -> dict:
        start, count = self.sized(pos, width, width + 1)
        keys_pos = self.indirect(pos - 3 * width, width)
        keys_width = self.uint(pos - 2 * width, width)
        if keys_width not in (1, 2, 4, 8):
            raise FlexBufferError(f"map at {pos} has key width {keys_width}")
        keys_start, key_count = self.sized(keys_pos, keys_width, keys_width)
        if key_count != count:
            raise FlexBufferError(f"map at {pos} has {count} values but {key_count} keys")
        types = start + count * width
        result = {}
        for i in range(count):
            key = self.cstring(self.indirect(keys_start + i * keys_width, keys_width))
            result[key] = self.value(start + i * width, width, self.uint(types + i, 1), depth + 1)
        return result


def loads(buf):
    """Decode a whole FlexBuffer: maps → dict, vectors → list, strings/blobs → memoryview.

    Raises FlexBufferError for anything malformed (offsets out of range, unknown types).
    """
    reader = _Reader(buf)
    if reader.size < 3:
        raise FlexBufferError(f"only {reader.size} bytes, too short for a FlexBuffer")
    root_width = reader.uint(reader.size - 1, 1)
    if root_width not in (1, 2, 4, 8):
        raise FlexBufferError(f"root byte width {root_width} is not 1, 2, 4 or 8")
    packed = reader.uint(reader.size - 2, 1)
    return reader.value(reader.size - 2 - root_width, root_width, packed)
