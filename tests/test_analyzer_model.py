"""The lean reader agrees with the `tflite` package's generated bindings, field for field."""

from __future__ import annotations

import tracemalloc

import tflite

from tpulens.analyzer import schema
from tpulens.analyzer.model import read_model


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
