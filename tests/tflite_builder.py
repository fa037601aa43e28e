"""Build tiny TFLite flatbuffers in tests, with the `tflite` package's generated builders.

A model is described by tensors and ops; every tensor with `data` becomes a constant buffer.
This is how the rule tests make one small model per Edge TPU constraint without TensorFlow.
"""

from __future__ import annotations

import importlib
import struct
from dataclasses import dataclass, field

import flatbuffers
import tflite

from tpulens.analyzer import schema

TYPE_CODES = {name: code for code, name in schema.TENSOR_TYPES.items()}
OP_CODES = {name: code for code, name in schema.BUILTIN_OPERATORS.items()}
OPTIONS_CODES = {name: code for code, (name, _) in schema.BUILTIN_OPTIONS.items()}


@dataclass
class T:
    name: str
    shape: tuple[int, ...]
    dtype: str = "UINT8"
    data: bytes | None = None
    scale: float | None = 0.1
    zero_point: int = 0
    shape_signature: tuple[int, ...] | None = None
    is_variable: bool = False


@dataclass
class Op:
    opcode: str
    inputs: list[str]
    outputs: list[str]
    version: int = 1
    options_type: str | None = None  # e.g. "Conv2DOptions"
    options: dict = field(default_factory=dict)  # CamelCase field -> value
    custom_code: str | None = None


def ints(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}i", *values)


def u8(*values: int) -> bytes:
    return bytes(values)


def _vector(builder, start_fn, values, prepend):
    start_fn(builder, len(values))
    for v in reversed(values):
        prepend(v)
    return builder.EndVector()


def _options(builder, name: str, values: dict) -> int:
    module = importlib.import_module(f"tflite.{name}")
    vectors = {k: _vector(builder, getattr(module, f"{name}Start{k}Vector"), v,
                          builder.PrependInt32)
               for k, v in values.items() if isinstance(v, list | tuple)}
    getattr(module, f"{name}Start")(builder)
    for key, value in values.items():
        getattr(module, f"{name}Add{key}")(builder, vectors.get(key, value))
    return getattr(module, f"{name}End")(builder)


def build(tensors: list[T], ops: list[Op], inputs: list[str] | None = None,
          outputs: list[str] | None = None, extra_subgraphs: list[tuple] = ()) -> bytes:
    """Serialize a single-subgraph model (plus optional (tensors, ops) subgraphs)."""
    b = flatbuffers.Builder(1024)
    table_ref = b.PrependUOffsetTRelative
    buffers = [b""]  # buffer 0 is the empty sentinel
    codes: list[tuple[str, str | None, int]] = []

    def subgraph(tensors, ops, inputs, outputs):
        index = {t.name: i for i, t in enumerate(tensors)}
        produced = {o for op in ops for o in op.outputs}
        consumed = {i for op in ops for i in op.inputs if i}
        inputs = inputs if inputs is not None else [
            t.name for t in tensors if t.name not in produced and t.data is None
            and t.name in consumed and not t.is_variable]
        outputs = outputs if outputs is not None else [
            t.name for t in tensors if t.name in produced and t.name not in consumed]
        tensor_offsets = []
        for t in tensors:
            buffer_index = 0
            if t.data is not None:
                buffers.append(t.data)
                buffer_index = len(buffers) - 1
            name = b.CreateString(t.name)
            shape = _vector(b, tflite.TensorStartShapeVector, list(t.shape), b.PrependInt32)
            sig = (_vector(b, tflite.TensorStartShapeSignatureVector, list(t.shape_signature),
                           b.PrependInt32) if t.shape_signature else None)
            quant = None
            if t.scale is not None and t.dtype in ("UINT8", "INT8", "INT16", "INT32"):
                scale = _vector(b, tflite.QuantizationParametersStartScaleVector, [t.scale],
                                b.PrependFloat32)
                zp = _vector(b, tflite.QuantizationParametersStartZeroPointVector,
                             [t.zero_point], b.PrependInt64)
                tflite.QuantizationParametersStart(b)
                tflite.QuantizationParametersAddScale(b, scale)
                tflite.QuantizationParametersAddZeroPoint(b, zp)
                quant = tflite.QuantizationParametersEnd(b)
            tflite.TensorStart(b)
            tflite.TensorAddShape(b, shape)
            if sig is not None:
                tflite.TensorAddShapeSignature(b, sig)
            tflite.TensorAddType(b, TYPE_CODES[t.dtype])
            tflite.TensorAddBuffer(b, buffer_index)
            tflite.TensorAddName(b, name)
            if quant is not None:
                tflite.TensorAddQuantization(b, quant)
            tflite.TensorAddIsVariable(b, t.is_variable)
            tensor_offsets.append(tflite.TensorEnd(b))
        op_offsets = []
        for op in ops:
            key = (op.opcode, op.custom_code, op.version)
            if key not in codes:
                codes.append(key)
            opts = _options(b, op.options_type, op.options) if op.options_type else None
            ins = _vector(b, tflite.OperatorStartInputsVector,
                          [index[n] if n else -1 for n in op.inputs], b.PrependInt32)
            outs = _vector(b, tflite.OperatorStartOutputsVector,
                           [index[n] for n in op.outputs], b.PrependInt32)
            tflite.OperatorStart(b)
            tflite.OperatorAddOpcodeIndex(b, codes.index(key))
            tflite.OperatorAddInputs(b, ins)
            tflite.OperatorAddOutputs(b, outs)
            if opts is not None:
                tflite.OperatorAddBuiltinOptionsType(b, OPTIONS_CODES[op.options_type])
                tflite.OperatorAddBuiltinOptions(b, opts)
            op_offsets.append(tflite.OperatorEnd(b))
        t_vec = _vector(b, tflite.SubGraphStartTensorsVector, tensor_offsets, table_ref)
        o_vec = _vector(b, tflite.SubGraphStartOperatorsVector, op_offsets, table_ref)
        i_vec = _vector(b, tflite.SubGraphStartInputsVector, [index[n] for n in inputs],
                        b.PrependInt32)
        out_vec = _vector(b, tflite.SubGraphStartOutputsVector, [index[n] for n in outputs],
                          b.PrependInt32)
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, t_vec)
        tflite.SubGraphAddOperators(b, o_vec)
        tflite.SubGraphAddInputs(b, i_vec)
        tflite.SubGraphAddOutputs(b, out_vec)
        return tflite.SubGraphEnd(b)

    graphs = [subgraph(tensors, ops, inputs, outputs)]
    graphs += [subgraph(ts, os_, None, None) for ts, os_ in extra_subgraphs]

    code_offsets = []
    for opcode, custom, version in codes:
        custom_off = b.CreateString(custom) if custom else None
        code = OP_CODES[opcode]
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddVersion(b, version)
        if custom_off is not None:
            tflite.OperatorCodeAddCustomCode(b, custom_off)
        code_offsets.append(tflite.OperatorCodeEnd(b))
    buffer_offsets = []
    for data in buffers:
        vec = b.CreateByteVector(data) if data else None
        tflite.BufferStart(b)
        if vec is not None:
            tflite.BufferAddData(b, vec)
        buffer_offsets.append(tflite.BufferEnd(b))
    codes_vec = _vector(b, tflite.ModelStartOperatorCodesVector, code_offsets, table_ref)
    graphs_vec = _vector(b, tflite.ModelStartSubgraphsVector, graphs, table_ref)
    buffers_vec = _vector(b, tflite.ModelStartBuffersVector, buffer_offsets, table_ref)
    desc = b.CreateString("tpulens test model")
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes_vec)
    tflite.ModelAddSubgraphs(b, graphs_vec)
    tflite.ModelAddDescription(b, desc)
    tflite.ModelAddBuffers(b, buffers_vec)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())
