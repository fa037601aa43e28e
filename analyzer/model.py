"""Read a .tflite file into plain dataclasses: subgraphs, operators, tensors, quantization.

The file is memory-mapped and weight buffers are never copied: a tensor only records whether
its buffer holds data and how many bytes, so memory does not grow with the weights.
"""

from __future__ import annotations

import math
import mmap
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from tpulens.analyzer import schema
from tpulens.analyzer.flatbuf import FlatbufferError, Table, root
from tpulens.analyzer.formats import directory_format, file_format
from tpulens.errors import InputError, existing_file

TFLITE_IDENTIFIER = b"TFL3"


@dataclass(frozen=True)
class Quantization:
    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    quantized_dimension: int = 0

    @property
    def per_axis(self) -> bool:
        return len(self.scale) > 1


@dataclass
class Tensor:
    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...] | None
    buffer_size: int
    buffer_offset: int = 0  # where the constant data starts in the file (0: none or external)
    is_variable: bool = False
    quantization_table: Table | None = field(default=None, repr=False, compare=False)

    @cached_property
    def quantization(self) -> Quantization | None:
        """Read on first use: most analyses never look at scales and zero points. A damaged
        table is found only then, so it is a one-line refusal where it is read."""
        try:
            return _quantization(self.quantization_table)
        except (FlatbufferError, struct.error) as err:
            raise InputError(f"tensor {self.name[:80]!r}: damaged quantization ({err})") \
                from None

    @property
    def is_constant(self) -> bool:
        """Constant tensors carry their data in the model (weights, biases, shape params)."""
        return self.buffer_size > 0

    @property
    def is_dynamic(self) -> bool:
        return self.shape_signature is not None and -1 in self.shape_signature

    @property
    def num_elements(self) -> int:
        return math.prod(self.shape)

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass
class Operator:
    subgraph: int
    index: int
    opcode: str
    custom_code: str | None
    version: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict)
    custom_options: tuple[int, int] = (0, 0)  # (offset, length) in the file


@dataclass
class Subgraph:
    index: int
    name: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def input_tensors(self, op: Operator) -> list[Tensor]:
        return [self.tensors[i] for i in op.inputs if i >= 0]

    def output_tensors(self, op: Operator) -> list[Tensor]:
        return [self.tensors[i] for i in op.outputs if i >= 0]


@dataclass
class Model:
    path: str
    size_bytes: int
    version: int
    description: str
    subgraphs: list[Subgraph]
    metadata: dict[str, int]  # metadata name -> buffer index
    buf: object = field(repr=False, default=b"")

    @property
    def operators(self) -> list[Operator]:
        return [op for sg in self.subgraphs for op in sg.operators]


def _opcode_name(code_table: Table) -> tuple[str, str | None, int]:
    deprecated = code_table.scalar(4, "b", 0)
    builtin = code_table.scalar(10, "i", 0)
    code = max(builtin, deprecated)
    name = schema.BUILTIN_OPERATORS.get(code, f"BUILTIN_{code}")
    return name, code_table.string(6), code_table.scalar(8, "i", 1)


def _options(op_table: Table) -> dict:
    kind = op_table.scalar(10, "B", 0)
    spec = schema.BUILTIN_OPTIONS.get(kind)
    table = op_table.table(12) if spec else None
    if table is None:
        return {}
    options = {}
    for name, slot, fmt, default, is_vector in spec[1]:
        options[name] = (list(table.scalars(slot, fmt) or ()) if is_vector
                         else table.scalar(slot, fmt, default))
    return options


def _quantization(table: Table | None) -> Quantization | None:
    if table is None:
        return None
    scale = table.scalars(8, "f") or ()
    if not scale:
        return None
    return Quantization(scale, table.scalars(10, "q") or (), table.scalar(16, "i", 0))


def _buffer_spans(model_table: Table) -> list[tuple[int, int]]:
    """(offset, size) of every buffer; models past 2 GB keep data after the flatbuffer."""
    spans = []
    for buffer in model_table.tables(12):
        start, length = buffer.byte_span(4)
        spans.append((start, length) if length else
                     (buffer.scalar(6, "Q", 0), buffer.scalar(8, "Q", 0)))
    return spans


def _own_tables(parent: Table, slot: int, what: str) -> Iterator[Table]:
    """The tables of a vector whose entries must each have their own table.

    A converter writes one table per subgraph, tensor and op; entries sharing one table would
    make a small file stand for millions of them, so sharing is treated as damage.
    """
    first_at: dict[int, int] = {}
    for i, item in enumerate(parent.tables(slot)):
        first = first_at.setdefault(item.pos, i)
        if first != i:
            raise FlatbufferError(f"{what} {first} and {i} share one table")
        yield item


def _subgraph(index: int, table: Table, opcodes: list, buffers: list[tuple[int, int]]) -> Subgraph:
    tensors = []
    for t_index, t in enumerate(_own_tables(table, 4, "tensors")):
        buffer_index = t.scalar(8, "I", 0)
        offset, size = buffers[buffer_index] if buffer_index < len(buffers) else (0, 0)
        dtype_code = t.scalar(6, "b", 0)
        tensors.append(Tensor(
            index=t_index,
            name=t.string(10) or f"tensor_{t_index}",
            dtype=schema.TENSOR_TYPES.get(dtype_code, f"TYPE_{dtype_code}"),
            shape=t.scalars(4, "i") or (),
            shape_signature=t.scalars(18, "i"),
            buffer_size=size,
            buffer_offset=offset,
            is_variable=bool(t.scalar(14, "?", False)),
            quantization_table=t.table(12),
        ))
    operators = []
    producer: dict[int, int] = {}  # tensor -> the op that writes it
    for o_index, o in enumerate(_own_tables(table, 10, "operators")):
        code_index = o.scalar(4, "I", 0)
        if code_index >= len(opcodes):
            raise FlatbufferError(f"operator {o_index} uses opcode {code_index} of "
                                  f"{len(opcodes)}")
        name, custom_code, version = opcodes[code_index]
        inputs = o.scalars(6, "i") or ()
        outputs = o.scalars(8, "i") or ()
        if max(inputs, default=-1) >= len(tensors) or max(outputs, default=-1) >= len(tensors):
            t = next(t for t in (*inputs, *outputs) if t >= len(tensors))
            raise FlatbufferError(f"operator {o_index} refers to tensor {t} of {len(tensors)}")
        for t in outputs:
            if t >= 0 and producer.setdefault(t, o_index) != o_index:
                raise FlatbufferError(f"tensor {t} is written by operators {producer[t]} "
                                      f"and {o_index}")
        operators.append(Operator(index, o_index, name, custom_code, version, inputs, outputs,
                                  _options(o), o.byte_span(14)))
    return Subgraph(index, table.string(12) or "", tensors, operators,
                    table.scalars(6, "i") or (), table.scalars(8, "i") or ())


def parse_model(buf, path: str = "<bytes>") -> Model:
    """Parse TFLite flatbuffer bytes (or a memory map); raises FlatbufferError on damage."""
    model = root(buf, TFLITE_IDENTIFIER)
    opcodes = [_opcode_name(t) for t in model.tables(6)]
    buffers = _buffer_spans(model)
    subgraphs = [_subgraph(i, t, opcodes, buffers)
                 for i, t in enumerate(_own_tables(model, 8, "subgraphs"))]
    metadata = {m.string(4) or "": m.scalar(6, "I", 0) for m in model.tables(16)}
    return Model(path, len(buf), model.scalar(4, "I", 0), model.string(10) or "", subgraphs,
                 metadata, buf)


_VALUE_FORMATS = {"INT32": "i", "INT64": "q", "UINT8": "B", "INT8": "b", "INT16": "h",
                  "FLOAT32": "f", "BOOL": "?"}


def constant_values(model: Model, tensor: Tensor, limit: int = 4096) -> tuple | None:
    """The values of a small constant tensor (axes, paddings, strides…), else None."""
    fmt = _VALUE_FORMATS.get(tensor.dtype)
    if not fmt or not tensor.is_constant or not tensor.buffer_offset:
        return None
    count = tensor.buffer_size // struct.calcsize(fmt)
    if count > limit or tensor.buffer_offset + tensor.buffer_size > len(model.buf):
        return None
    return struct.unpack_from(f"<{count}{fmt}", model.buf, tensor.buffer_offset)


def open_bytes(path: str | os.PathLike):
    """Memory-map a file for reading, with one-line errors for the usual mistakes. Opened
    non-blocking and checked on the descriptor: a FIFO or a device is refused, not waited on."""
    p = Path(path)
    try:
        if p.is_dir() and (found := directory_format(p)):
            raise InputError(found.message(p))
        p = existing_file(p, "a .tflite file")
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError) as err:
        raise InputError(f"{p}: cannot read: {getattr(err, 'strerror', None) or err}") \
            from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{p}: not a regular file, expected a .tflite model")
        if info.st_size == 0:
            raise InputError(f"{p}: empty file, expected a .tflite model")
        return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except OSError as err:
        raise InputError(f"{p}: cannot read: {err.strerror or err}") from None
    finally:
        os.close(fd)


def read_model(path: str | os.PathLike) -> Model:
    """Read a .tflite file; bad files raise InputError naming the file and the problem."""
    return model_from_bytes(open_bytes(path), str(path))


def model_from_bytes(buf, name: str = "<bytes>") -> Model:
    """Parse model bytes; anything malformed raises InputError naming `name`."""
    if bytes(buf[4:8]) != TFLITE_IDENTIFIER:
        if known := file_format(Path(name), bytes(buf[:16])):
            raise InputError(known.message(Path(name)))
        found = bytes(buf[4:8])
        raise InputError(f"{name}: not a TFLite model (flatbuffer identifier {found!r}, "
                         f"expected {TFLITE_IDENTIFIER!r})")
    try:
        return parse_model(buf, name)
    except (FlatbufferError, struct.error, IndexError, OverflowError, MemoryError) as err:
        raise InputError(f"{name}: damaged or truncated TFLite model ({err})") from None
