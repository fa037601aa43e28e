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
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from tpulens.analyzer import schema
from tpulens.analyzer.flatbuf import (
    Fields,
    FlatbufferError,
    Table,
    byte_span,
    offset,
    root,
    scalar,
    scalars,
    string,
    table,
)
from tpulens.analyzer.formats import directory_format, file_format
from tpulens.errors import InputError, existing_file

TFLITE_IDENTIFIER = b"TFL3"


class Quantization(NamedTuple):
    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    quantized_dimension: int = 0

    @property
    def per_axis(self) -> bool:
        return len(self.scale) > 1


_UNREAD = object()  # a tensor's quantization before it is read


@dataclass(init=False)
class Tensor:
    """A tensor of a subgraph: its type and shape, where its constant data is, and its
    quantization, read when first asked for."""

    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    buffer_size: int
    buffer_offset: int = 0  # where the constant data starts in the file (0: none or external)
    is_variable: bool = False
    # The model's root table (the file to read from) and where the quantization table is.
    quantization_at: tuple[Table, int] | None = field(default=None, repr=False, compare=False)
    # Worked out with the tensor, as plain attributes: the analysis reads them several times
    # for every op, and a property is a function call each time.
    is_constant: bool = field(init=False, repr=False, compare=False)  # its data is in the model
    num_elements: int = field(init=False, repr=False, compare=False)

    def __init__(self, index: int, name: str, dtype: str, shape: tuple[int, ...],
                 buffer_size: int, buffer_offset: int = 0, is_variable: bool = False,
                 quantization_at: tuple[Table, int] | None = None):
        self.index, self.name, self.dtype, self.shape = index, name, dtype, shape
        self.buffer_size, self.buffer_offset = buffer_size, buffer_offset
        self.is_variable, self.quantization_at = is_variable, quantization_at
        # Constant tensors carry their data in the model (weights, biases, shape params).
        self.is_constant = buffer_size > 0
        self.num_elements = math.prod(shape)
        self._quantization = _UNREAD

    @property
    def quantization(self) -> Quantization | None:
        """Read on first use, then kept: most analyses never look at scales and zero points. A
        damaged table is found only then, so it is a one-line refusal where it is read."""
        if self._quantization is _UNREAD:
            try:
                self._quantization = _quantization(self.quantization_at)
            except (FlatbufferError, struct.error) as err:
                raise InputError(f"tensor {self.name[:80]!r}: damaged quantization ({err})") \
                    from None
        return self._quantization

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass
class Operator:
    """An op: its type and version, its tensors by index, and its builtin options."""

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
    """A subgraph's tensors and ops, in the order the file lists them."""

    index: int
    name: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def input_tensors(self, op: Operator) -> list[Tensor]:
        return _tensors_at(self.tensors, op.inputs)

    def output_tensors(self, op: Operator) -> list[Tensor]:
        return _tensors_at(self.tensors, op.outputs)


def _tensors_at(tensors: list[Tensor], indices: tuple[int, ...]) -> list[Tensor]:
    """The tensors at `indices` (an absent optional one, -1, left out), in a loop: quicker
    than a comprehension over an op's few tensors."""
    found = []
    for i in indices:
        if i >= 0:
            found.append(tensors[i])
    return found


@dataclass
class Model:
    """A parsed .tflite file: its subgraphs, description and metadata, over its bytes."""

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


def _options_fields(spec: list) -> tuple[tuple[str, ...], Fields, tuple[str, ...]]:
    """(field names, their Fields, names of the vector fields) of one builtin options table."""
    names = tuple(name for name, *_ in spec)
    fields = Fields(*(scalars(slot, fmt, ()) if is_vector else scalar(slot, fmt, default)
                      for _, slot, fmt, default, is_vector in spec))
    return names, fields, tuple(name for name, *_, is_vector in spec if is_vector)


_OPTIONS = {kind: _options_fields(spec) for kind, (_, spec) in schema.BUILTIN_OPTIONS.items()}


def _options(model: Table, kind: int, at: int) -> dict:
    """The builtin options of an op whose options table (of type `kind`) is at `at`."""
    found = _OPTIONS.get(kind)
    if found is None:
        return {}
    names, fields, vectors = found
    options = dict(zip(names, model.read_at(at, fields), strict=True))
    for name in vectors:
        options[name] = list(options[name])
    return options


_SCALE = Fields(scalars(8, "f", ()))
_ZERO_POINT_AND_AXIS = Fields(scalars(10, "q", ()), scalar(16, "i", 0))


def _quantization(where: tuple[Table, int] | None) -> Quantization | None:
    """A tensor without scales is not quantized: the rest of its table is not read."""
    if where is None:
        return None
    model, at = where
    (scale,) = model.read_at(at, _SCALE)
    if not scale:
        return None
    return Quantization(scale, *model.read_at(at, _ZERO_POINT_AND_AXIS))


_BUFFER = Fields(byte_span(4), scalar(6, "Q", 0), scalar(8, "Q", 0))


def _buffer_spans(model_table: Table) -> list[tuple[int, int]]:
    """(offset, size) of every buffer; models past 2 GB keep data after the flatbuffer."""
    return [data if data[1] else (at, size) for data, at, size
            in model_table.read_tables(model_table.positions(12), _BUFFER)]


def _own_positions(parent: Table, slot: int, what: str) -> list[int]:
    """Where the tables of a vector are, when its entries must each have their own table.

    A converter writes one table per subgraph, tensor and op; entries sharing one table would
    make a small file stand for millions of them, so sharing is treated as damage.
    """
    positions = parent.positions(slot)
    if len(set(positions)) < len(positions):
        first_at: dict[int, int] = {}
        for i, pos in enumerate(positions):
            first = first_at.setdefault(pos, i)
            if first != i:
                raise FlatbufferError(f"{what} {first} and {i} share one table")
    return positions


# shape, type, buffer, name, quantization, is_variable. Not read: shape_signature (a batch
# left -1 there compiles: only sizes computed at run time fail, see rules.static_shapes).
_TENSOR = Fields(scalars(4, "i", ()), scalar(6, "b", 0), scalar(8, "I", 0), string(10),
                 table(12), scalar(14, "?", False))


def _tensors(model: Table, subgraph: Table, buffers: list[tuple[int, int]]) -> list[Tensor]:
    tensors = []
    positions = _own_positions(subgraph, 4, "tensors")
    for i, values in enumerate(model.read_tables(positions, _TENSOR)):
        shape, dtype_code, buffer_index, name, quantization, is_variable = values
        data_at, size = buffers[buffer_index] if buffer_index < len(buffers) else (0, 0)
        dtype = schema.TENSOR_TYPES.get(dtype_code) or f"TYPE_{dtype_code}"
        # Positional: a model has thousands of tensors, and keywords double the cost of each.
        quantization_at = None if quantization is None else (model, quantization)
        tensors.append(Tensor(i, name or f"tensor_{i}", dtype, shape, size, data_at,
                              is_variable, quantization_at))
    return tensors


_OPERATOR = Fields(scalar(4, "I", 0), scalars(6, "i", ()), scalars(8, "i", ()),
                   scalar(10, "B", 0), offset(12), byte_span(14))


def _operators(model: Table, index: int, subgraph: Table, opcodes: list,
               tensor_count: int) -> list[Operator]:
    positions = _own_positions(subgraph, 10, "operators")
    rows = model.read_tables(positions, _OPERATOR)
    _check_references(rows, len(opcodes), tensor_count)
    operators = []
    for i, (code_index, inputs, outputs, options_kind, options_at, custom) in enumerate(rows):
        name, custom_code, version = opcodes[code_index]
        options = _options(model, options_kind, options_at) if options_at else {}
        operators.append(Operator(index, i, name, custom_code, version, inputs, outputs,
                                  options, custom))
    return operators


def _check_references(rows: list[tuple], opcode_count: int, tensor_count: int) -> None:
    """Refuse an op naming an opcode or a tensor the model does not have, or writing a tensor
    another op writes. All ops are checked at once; only a damaged model is gone through op
    by op, to name the first problem."""
    codes = list(map(itemgetter(0), rows))  # map and itemgetter: no Python call per op
    inputs = list(chain.from_iterable(map(itemgetter(1), rows)))
    outputs = list(chain.from_iterable(map(itemgetter(2), rows)))
    written = [t for t in outputs if t >= 0]
    if (max(codes, default=-1) < opcode_count
            and max(inputs, default=-1) < tensor_count and max(outputs, default=-1) < tensor_count
            and len(set(written)) == len(written)):
        return
    producer: dict[int, int] = {}  # tensor -> the op that writes it
    for o_index, (code_index, inputs, outputs, *_) in enumerate(rows):
        if code_index >= opcode_count:
            raise FlatbufferError(f"operator {o_index} uses opcode {code_index} of "
                                  f"{opcode_count}")
        if max(inputs, default=-1) >= tensor_count or max(outputs, default=-1) >= tensor_count:
            t = next(t for t in (*inputs, *outputs) if t >= tensor_count)
            raise FlatbufferError(f"operator {o_index} refers to tensor {t} of {tensor_count}")
        for t in outputs:
            if t >= 0 and producer.setdefault(t, o_index) != o_index:
                raise FlatbufferError(f"tensor {t} is written by operators {producer[t]} "
                                      f"and {o_index}")


def _subgraph(model: Table, index: int, subgraph: Table, opcodes: list,
              buffers: list[tuple[int, int]]) -> Subgraph:
    tensors = _tensors(model, subgraph, buffers)
    operators = _operators(model, index, subgraph, opcodes, len(tensors))
    return Subgraph(index, subgraph.string(12) or "", tensors, operators,
                    subgraph.scalars(6, "i") or (), subgraph.scalars(8, "i") or ())


def parse_model(buf, path: str = "<bytes>") -> Model:
    """Parse TFLite flatbuffer bytes (or a memory map); raises FlatbufferError on damage."""
    model = root(buf, TFLITE_IDENTIFIER)
    opcodes = [_opcode_name(t) for t in model.tables(6)]
    buffers = _buffer_spans(model)
    subgraphs = [_subgraph(model, i, Table(buf, pos, model.end, model.budget), opcodes, buffers)
                 for i, pos in enumerate(_own_positions(model, 8, "subgraphs"))]
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
