"""The lean reader agrees with the `tflite` package's generated bindings, field for field,
reads fields where a damaged vtable puts them, names what a damaged op refers to, and keeps
nothing large of a file once it is read."""

from __future__ import annotations

import gc
import struct
import tracemalloc

import pytest
import tflite
from tflite_builder import Op, T, build

from tpulens.analyzer import schema
from tpulens.analyzer.flatbuf import root
from tpulens.analyzer.model import model_from_bytes, read_model
from tpulens.errors import InputError

SAMPLE = "pairs/edgetpu/deeplabv3_mnv2_dm05_pascal_quant.tflite"


def reference(path) -> dict:
    """What the official bindings read from the same file."""
    data = path.read_bytes()
    m = tflite.Model.GetRootAs(data, 0)
    graphs = []
    for s in range(m.SubgraphsLength()):
        g = m.Subgraphs(s)
        ops = []
        for i in range(g.OperatorsLength()):
            op = g.Operators(i)
            code = m.OperatorCodes(op.OpcodeIndex())
            ops.append((schema.BUILTIN_OPERATORS[max(code.BuiltinCode(),
                                                     code.DeprecatedBuiltinCode())],
                        code.Version(), tuple(op.InputsAsNumpy().tolist()),
                        tuple(op.OutputsAsNumpy().tolist())))
        tensors = []
        for i in range(g.TensorsLength()):
            t = g.Tensors(i)
            buf = m.Buffers(t.Buffer())
            tensors.append((t.Name().decode(), schema.TENSOR_TYPES[t.Type()],
                            tuple(t.ShapeAsNumpy().tolist()) if t.ShapeLength() else (),
                            buf.DataLength() > 0))
        graphs.append((ops, tensors))
    metadata = sorted(m.Metadata(i).Name().decode() for i in range(m.MetadataLength()))
    return {"graphs": graphs, "metadata": metadata}


def ours(path) -> dict:
    m = read_model(path)
    graphs = [([(op.opcode, op.version, op.inputs, op.outputs) for op in g.operators],
               [(t.name, t.dtype, t.shape, t.is_constant) for t in g.tensors])
              for g in m.subgraphs]
    return {"graphs": graphs, "metadata": sorted(m.metadata)}


def test_reader_matches_tflite_bindings_on_every_corpus_model(corpus):
    paths = sorted(corpus.rglob("*.tflite"))
    assert len(paths) > 100
    for path in paths:
        assert ours(path) == reference(path), path


def test_reader_does_not_copy_weight_buffers(corpus):
    path = corpus / "pairs/test_data@086adea/mobilenet_v2_1.0_224_quant.tflite"
    size = path.stat().st_size
    tracemalloc.start()
    model = read_model(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert model.size_bytes == size
    assert peak < size / 4, f"peak {peak} bytes for a {size}-byte model"


def reference_quantization(path) -> list:
    """(scales, zero points, axis) of each tensor of the first subgraph, per the bindings."""
    graph = tflite.Model.GetRootAs(path.read_bytes(), 0).Subgraphs(0)
    found = []
    for i in range(graph.TensorsLength()):
        q = graph.Tensors(i).Quantization()
        if q is None or not q.ScaleLength():
            found.append(None)
            continue
        zero_point = tuple(q.ZeroPointAsNumpy().tolist()) if q.ZeroPointLength() else ()
        found.append((tuple(q.ScaleAsNumpy().tolist()), zero_point, q.QuantizedDimension()))
    return found


def test_quantization_matches_tflite_bindings_on_every_quantized_corpus_model(corpus):
    checked = 0
    for path in sorted(corpus.rglob("*quant*.tflite")):
        tensors = read_model(path).subgraphs[0].tensors
        ours = [(t.quantization.scale, t.quantization.zero_point,
                 t.quantization.quantized_dimension) if t.quantization else None
                for t in tensors]
        assert ours == reference_quantization(path), path
        checked += sum(q is not None for q in ours)
    assert checked > 1000


def _without_zero_points(data: bytes) -> bytes:
    """The model with the zero point field of every tensor's quantization table absent."""
    out = bytearray(data)
    for tensor in next(root(data).tables(8)).tables(4):
        at = tensor._indirect(12)  # the quantization table
        vtable = at - struct.unpack_from("<i", data, at)[0]
        struct.pack_into("<H", out, vtable + 10, 0)  # zero_point: slot 10
    return bytes(out)


def test_scales_without_zero_points_read_as_the_bindings_read_them(tmp_path):
    """A quantization table may carry scales and no zero points (the schema does not require
    them): both readers take the zero points as none."""
    path = tmp_path / "no_zero_points.tflite"
    path.write_bytes(_without_zero_points(build([T("x", (1, 4), scale=0.5, zero_point=3)], [])))
    (quantization,) = reference_quantization(path)
    assert quantization == ((0.5,), (), 0)
    tensor = read_model(path).subgraphs[0].tensors[0]
    assert (tensor.quantization.scale, tensor.quantization.zero_point) == ((0.5,), ())


def test_fields_a_damaged_vtable_overlaps_are_each_read_where_it_says(corpus):
    """Tensor vtables pointing the type field at the buffer index: every tensor reads both as
    the field-by-field reader does (a converter never writes this; a damaged file may)."""
    data = bytearray((corpus / SAMPLE).read_bytes())
    for tensor in next(root(bytes(data)).tables(8)).tables(4):
        vtable = tensor.pos - struct.unpack_from("<i", data, tensor.pos)[0]
        struct.pack_into("<H", data, vtable + 6, struct.unpack_from("<H", data, vtable + 8)[0])
    damaged = bytes(data)
    model = root(damaged)
    subgraph = next(model.tables(8))
    buffers = [b.byte_span(4)[1] for b in model.tables(12)]
    expected = []
    for tensor in subgraph.tables(4):
        assert tensor._words[3] == tensor._words[4] != 0  # type and buffer index overlap
        code = tensor.scalar(6, "b")
        expected.append((schema.TENSOR_TYPES.get(code) or f"TYPE_{code}",
                         buffers[tensor.scalar(8, "I")]))
    read = model_from_bytes(damaged, "overlap.tflite").subgraphs[0].tensors
    assert [(t.dtype, t.buffer_size) for t in read] == expected
    assert len({dtype for dtype, _ in expected}) > 1


def _two_ops() -> bytes:
    """Two ops of two opcodes, so the second op's opcode index (1) is written in its table."""
    return build([T("x", (1, 4)), T("y", (1, 4)), T("z", (1, 4))],
                 [Op("RELU", ["x"], ["y"]), Op("LOGISTIC", ["y"], ["z"])])


def _second_op(data: bytes):
    return list(next(root(data).tables(8)).tables(10))[1]


def test_an_op_naming_an_opcode_the_model_lacks_is_named():
    data = bytearray(_two_ops())
    op = _second_op(bytes(data))
    assert op.scalar(4, "I") == 1
    struct.pack_into("<I", data, op.pos + op._words[2], 7)  # opcode_index: slot 4
    with pytest.raises(InputError, match=r"operator 1 uses opcode 7 of 2\)$"):
        model_from_bytes(bytes(data), "opcode.tflite")


@pytest.mark.parametrize("slot", [6, 8])  # the op's inputs, its outputs
def test_an_op_naming_a_tensor_the_subgraph_lacks_is_named(slot):
    data = bytearray(_two_ops())
    start, count = _second_op(bytes(data))._vector(slot, 4)
    assert count == 1
    struct.pack_into("<i", data, start, 9)
    with pytest.raises(InputError, match=r"operator 1 refers to tensor 9 of 3\)$"):
        model_from_bytes(bytes(data), "tensor.tflite")


def _own_large_vtables(data: bytes) -> bytes:
    """The model with each tensor's table pointing at a vtable of its own, the largest a
    vtable can be (32,767 words), appended to the file: the words the tensor had, then zeros,
    then a last word telling the vtables apart."""
    out = bytearray(data)
    for i, pos in enumerate(next(root(data).tables(8)).positions(4)):
        vtable = pos - struct.unpack_from("<i", data, pos)[0]
        size = struct.unpack_from("<H", data, vtable)[0]
        large = bytearray(data[vtable:vtable + size].ljust(0xFFFE, b"\0"))
        struct.pack_into("<H", large, 0, 0xFFFE)
        struct.pack_into("<H", large, 0xFFFC, i + 1)
        out += bytes(len(out) % 2)
        struct.pack_into("<i", out, pos, pos - len(out))
        out += large
    return bytes(out)


def test_many_large_vtables_leave_nothing_large_once_read():
    """What is kept across files (each vtable's layout of the fields read) is kept by the few
    words those fields take, not by the whole vtable: 64 tables of 64 KB vtables would
    otherwise keep 16 MB for as long as the process runs."""
    data = build([T(f"t{i}", (1, i + 1)) for i in range(64)], [])
    large = _own_large_vtables(data)
    assert len(large) > 64 * 0xFFFE
    tracemalloc.start()
    model = model_from_bytes(large, "large_vtables.tflite")
    tensors = [(t.name, t.shape) for t in model.subgraphs[0].tensors]
    del model
    gc.collect()
    kept, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert tensors == [(t.name, t.shape) for t in model_from_bytes(data).subgraphs[0].tensors]
    assert kept < 256 * 1024, f"{kept} bytes kept after reading"
