"""Weight statistics read straight from a `.tflite` flatbuffer (no interpreter, no TF).

For every CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED op, the constant weight tensor
(input 1) is read from its buffer; sparsity is the share of stored zeros (for quantized weights,
values equal to the zero point), unique values are counted per output channel (axis 3 for
depthwise kernels, axis 0 otherwise): after clustering they are at most the number of clusters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

WEIGHT_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


@dataclass
class WeightStats:
    tensors: int
    weights: int
    sparsity: float
    unique_per_channel_max: int
    unique_per_channel_mean: float


def weight_tensors(path: Path) -> list[tuple[str, np.ndarray]]:
    """(opcode name, weights as stored, channel axis first) for every weighted op."""
    import tflite

    buf = Path(path).read_bytes()
    model = tflite.Model.GetRootAsModel(buf, 0)
    names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    dtypes = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
    np_types = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT8": np.int8,
                "UINT8": np.uint8, "INT32": np.int32, "INT16": np.int16}
    out, seen = [], set()
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        producers = _dequantize_producers(model, graph, names)
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            code = model.OperatorCodes(op.OpcodeIndex())
            opname = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "")
            if opname not in WEIGHT_OPS or op.InputsLength() < 2:
                continue
            t_index = producers.get(op.Inputs(1), op.Inputs(1))  # float16: DEQUANTIZE(const)
            if t_index < 0 or (s, t_index) in seen:
                continue
            tensor = graph.Tensors(t_index)
            data = model.Buffers(tensor.Buffer()).DataAsNumpy()
            dtype = np_types.get(dtypes.get(tensor.Type()))
            if isinstance(data, int) or dtype is None or data.size == 0:
                continue  # not constant (e.g. produced by a DEQUANTIZE op) or unknown type
            seen.add((s, t_index))
            values = np.frombuffer(data.tobytes(), dtype).reshape(tensor.ShapeAsNumpy())
            if opname == "DEPTHWISE_CONV_2D":
                values = np.moveaxis(values, -1, 0)
            zero = 0
            quant = tensor.Quantization()
            if quant is not None and quant.ZeroPointLength() == 1:
                zero = int(quant.ZeroPoint(0))
            out.append((opname, values - zero if zero else values))
    return out


def weight_stats(path: Path) -> WeightStats | None:
    """Sparsity and unique values per channel over all weighted ops (None if none found)."""
    tensors = weight_tensors(path)
    if not tensors:
        return None
    total = sum(v.size for _, v in tensors)
    zeros = sum(int(np.count_nonzero(v == 0)) for _, v in tensors)
    per_channel = [len(np.unique(channel)) for _, v in tensors for channel in v.reshape(
        v.shape[0], -1)]
    return WeightStats(len(tensors), total, zeros / total, int(max(per_channel)),
                       float(np.mean(per_channel)))


def _dequantize_producers(model, graph, names) -> dict[int, int]:
    """Output tensor → input tensor of each DEQUANTIZE op (float16 weights are stored so)."""
    out = {}
    for o in range(graph.OperatorsLength()):
        op = graph.Operators(o)
        code = model.OperatorCodes(op.OpcodeIndex())
        if names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode())) == "DEQUANTIZE":
            out[op.Outputs(0)] = op.Inputs(0)
    return out
