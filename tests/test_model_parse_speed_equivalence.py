"""The one-unpack table reader reads what the field-by-field reader and the `tflite` bindings
read: quantization of every quantized corpus tensor, and fields a damaged vtable overlaps."""

from __future__ import annotations

import struct

import tflite

from tpulens.analyzer import schema
from tpulens.analyzer.flatbuf import root
from tpulens.analyzer.model import model_from_bytes, read_model

SAMPLE = "pairs/edgetpu/deeplabv3_mnv2_dm05_pascal_quant.tflite"


def reference_quantization(path) -> list:
    """(scales, zero points, axis) of each tensor of the first subgraph, per the bindings."""
    graph = tflite.Model.GetRootAs(path.read_bytes(), 0).Subgraphs(0)
    found = []
    for i in range(graph.TensorsLength()):
        q = graph.Tensors(i).Quantization()
        scale = tuple(q.ScaleAsNumpy().tolist()) if q and q.ScaleLength() else ()
        found.append((scale, tuple(q.ZeroPointAsNumpy().tolist()), q.QuantizedDimension())
                     if scale else None)
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
