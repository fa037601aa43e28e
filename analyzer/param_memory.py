"""Parameter memory of each Edge TPU subgraph: the bytes the compiler lays out, and how many of
them are cached in the chip's on-chip memory or streamed from the host at every inference.

The layout was read from the parameter blobs inside compiled models (../shared/corpus): for each
op, the compiler writes a block of int32 biases, then the 8-bit weights with the input channels
padded to groups of 4 and the output channels padded to the width the chip computes at once.
Ops that add or multiply a constant tensor store it in the execution-only part (streamed): 16
bytes per value for a per-channel constant, one byte per output value for a constant that must
be broadcast. What each rule rests on is in LayoutRules; docs/edgetpu-performance.md gives the
measured error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from tpulens.analyzer.model import Model, Subgraph, Tensor, constant_values
from tpulens.analyzer.partition import NO_EPOCH, Dataflow, dataflow, epochs, producers

if TYPE_CHECKING:  # read from a compiled model by its reader
    from tpulens.analyzer.edgetpu_package import Package

MIB = 1 << 20

# Observed in compiler logs: "On-chip memory used" plus "remaining" is 6.12 to 7.47 MiB of the
# chip's 8 MB (documented: coral.ai, "the Edge TPU cache (~8 MB)"); the one log that streams for
# lack of room (a YOLOv5s, compiler 16.0) caches 6.89 MiB and leaves 1.00 KiB: used here.
ON_CHIP_CAPACITY_BYTES = round(6.89 * MIB) + 1024
ELEMENTWISE_OPS = frozenset({"ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE"})
MATRIX_OPS = frozenset({"CONV_2D", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D"})


class LayoutRules(NamedTuple):
    """How the compiler pads and stores parameters, read from the parameter blobs of the
    corpus's compiled models (tools/fit_param_memory.py re-fits them leaving sources out)."""

    # Observed: conv and fully connected weights are rows of 4 input channels (3 channels are
    # padded to 4 with the weights' zero point).
    input_channel_group: int = 4
    # Observed: up to 64 output channels pad to a multiple of 16 (8 -> 16, 24 -> 32, 34 -> 48);
    # wider layers to a multiple of 64 (72, 80, 96 -> 128; 144 -> 192; 288 -> 320;
    # 1001 -> 1024). No per-tensor op of the corpus differs.
    narrow_output_channels: int = 64
    narrow_output_group: int = 16
    wide_output_group: int = 64
    # Observed: a conv with one output channel keeps rows of 4 (three single-channel convs,
    # 64 to 25600 bytes); a fully connected op still pads to 16 (1 output over 94400 inputs
    # lays out 94400 x 16 bytes).
    tiny_conv_output_group: int = 4
    # Observed: one int32 bias per padded output channel, stored before the weights.
    bias_bytes: int = 4
    # Observed (compilers 15.0 and 16.0, int8 per-channel models): per-channel quantization adds
    # 8 bytes (a scale and a shift) per padded output channel.
    per_channel_bytes: int = 8
    # Observed: a depthwise conv is stored as 4x4 diagonal blocks: per group of 4 channels,
    # 16 bytes of biases and 16 bytes per kernel tap.
    depthwise_channel_group: int = 4
    # Observed: an ADD/SUB/MUL with a constant operand stores 16 bytes per constant value, in
    # the execution-only executable, streamed at every inference (1.0 and 2.0: MUL and ADD of
    # 128 and of 32 + 64 channels; 16.0: SUB of 512 channels, twice).
    elementwise_bytes_per_value: int = 16
    # Observed (16.0): a constant that varies along an axis other than the channels, or that
    # meets an operand broadcast along the channels, is stored broadcast to the op's output,
    # one byte per output value, streamed (YOLOv5n head: ADD of (400, 1, 2) and MUL of
    # (1, 3, 2) over (400, 3, 2) outputs, 2400 bytes each, 9600 over 1600 positions; a
    # transformer's layer norm: (49, 1) x (512,) stored as 49 copies of the 512 values).
    # A constant whose values are all equal counts as one value (the blobs hold no copy of 30
    # layer-scale MUL constants left at their initial value, nor of four (1, 2) MULs of 127s).
    broadcast_bytes_per_value: int = 1
    # Inferred from one model (16.0, a TCN): a conv or fully connected op whose weights for one
    # output channel exceed this is streamed although the cache has room (one output over
    # 94400 inputs, 1.44 MiB, streamed; the longest row cached in the corpus is 11520 bytes, a
    # 3x3 conv over 1280 channels). Any bound between the two fits the corpus alike.
    streamed_row_bytes: int = 64 * 1024
    # Observed (16.0 only): each SOFTMAX adds 576 cached bytes (64 before the first op's block
    # and 512 after the last: LeNet, NIN, two- to four-CNN ensembles, 1 to 4 softmaxes).
    # Compilers up to 15.0 add none (the Coral zoo's softmax models are byte-exact without).
    softmax_bytes: int = 576
    # Inferred from one model (16.0, YOLOv5n head): a channel slice or channel concatenation
    # whose offsets or widths are not multiples of this is laid out like a 1x1 conv with a 0/1
    # selection matrix, cached (slices 85 -> 2, 2, 81 and their concatenation back to 85, in
    # two heads: 52992 bytes by this rule; the two blocks the compiler wrote there hold 50560).
    # Aligned slices store nothing (YOLOv8n's 20 channel halvings). Against it: a concatenation
    # of three 10-wide vectors (a CNN ensemble) stores no such 1152-byte block.
    channel_selection_alignment: int = 4
    # Observed: a conv or depthwise block starts on a 64-byte boundary (a conv with one output
    # channel over 3 inputs takes 64 bytes, over 3x3x1 inputs 192, a 20x20 depthwise conv of 3
    # channels 6464).
    block_alignment: int = 64


RULES = LayoutRules()
# Observed: the SOFTMAX table is new in compiler 16.0 (see LayoutRules.softmax_bytes).
FIRST_COMPILER_WITH_SOFTMAX_TABLE = 16


def rules_for(compiler_version: str | None, rules: LayoutRules = RULES) -> LayoutRules:
    """The layout rules of one compiler version ("15.0.340273435"); None: the latest (16.0)."""
    major = re.match(r"\d+", compiler_version or "")
    if major and int(major.group()) < FIRST_COMPILER_WITH_SOFTMAX_TABLE:
        return rules._replace(softmax_bytes=0)
    return rules


class SubgraphParameters(NamedTuple):
    """One Edge TPU subgraph's parameter bytes, and how many are cached or streamed."""

    ops: tuple[int, ...]
    parameter_bytes: int
    on_chip_bytes: int
    off_chip_bytes: int


class OpParameters(NamedTuple):
    """What one op lays out; `cacheable` is False for data the compiler always streams."""

    size: int
    cacheable: bool = True


NOTHING = OpParameters(0)  # the block of an op that lays out nothing (most ops), shared


def _pad(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def output_channels_padded(channels: int, tiny_group: int, rules: LayoutRules = RULES) -> int:
    """The output channels the chip computes for `channels` (see LayoutRules)."""
    if channels <= tiny_group:
        return tiny_group
    narrow = channels <= rules.narrow_output_channels
    return _pad(channels, rules.narrow_output_group if narrow else rules.wide_output_group)


def _matrix_bytes(outputs: int, taps: int, inputs: int, per_channel: bool, tiny_group: int,
                  rules: LayoutRules) -> int:
    """Biases (and per-channel scales), then weights: a conv or fully connected op."""
    padded = output_channels_padded(outputs, tiny_group, rules)
    head = rules.bias_bytes + (rules.per_channel_bytes if per_channel else 0)
    return padded * (head + taps * _pad(inputs, rules.input_channel_group))


def _constant_weights(subgraph: Subgraph, tensor_index: int,
                      producer: dict[int, int]) -> Tensor | None:
    """The weights if they are a compile-time constant (or a DEQUANTIZE of one)."""
    if tensor_index < 0:
        return None
    tensor = subgraph.tensors[tensor_index]
    if tensor.is_constant:
        return tensor
    maker = producer.get(tensor_index)
    if maker is None or subgraph.operators[maker].opcode != "DEQUANTIZE":
        return None
    source = subgraph.input_tensors(subgraph.operators[maker])
    return tensor if source and source[0].is_constant else None


def op_parameters(subgraph: Subgraph, index: int, producer: dict[int, int],
                  rules: LayoutRules = RULES, model: Model | None = None) -> OpParameters:
    """The parameter bytes the compiler lays out for one op mapped to the Edge TPU (`model`
    gives constant values: without it, no constant is taken for uniform)."""
    op = subgraph.operators[index]
    if op.opcode in MATRIX_OPS:
        weights = (_constant_weights(subgraph, op.inputs[1], producer)
                   if len(op.inputs) > 1 else None)
        if weights is None or len(weights.shape) < 2:
            return NOTHING
        shape, quant = weights.shape, weights.quantization
        per_channel = quant is not None and quant.per_axis
        taps = math.prod(shape[1:-1])
        if op.opcode == "DEPTHWISE_CONV_2D":
            channels = shape[-1]
            size = _pad(channels, rules.depthwise_channel_group) * rules.bias_bytes * (1 + taps)
            size += rules.per_channel_bytes * channels if per_channel else 0
            return OpParameters(_pad(size, rules.block_alignment))
        tiny = (rules.tiny_conv_output_group if op.opcode == "CONV_2D"
                else rules.narrow_output_group)
        size = _matrix_bytes(shape[0], taps, shape[-1], per_channel, tiny, rules)
        row = taps * _pad(shape[-1], rules.input_channel_group)
        return OpParameters(_pad(size, rules.block_alignment),
                            cacheable=row <= rules.streamed_row_bytes)
    if op.opcode == "TRANSPOSE":
        return OpParameters(_transpose_bytes(subgraph, op, rules))
    if op.opcode in ELEMENTWISE_OPS:
        return OpParameters(_elementwise_bytes(model, subgraph, op, rules), cacheable=False)
    if op.opcode == "SOFTMAX":
        return OpParameters(rules.softmax_bytes)
    if op.opcode in ("STRIDED_SLICE", "CONCATENATION"):
        return OpParameters(_channel_selection_bytes(model, subgraph, op, rules))
    return NOTHING


def _channel_selection_bytes(model: Model | None, subgraph: Subgraph, op,
                             rules: LayoutRules) -> int:
    """An unaligned channel slice or concatenation, as a 0/1 matrix (see LayoutRules)."""
    outs = subgraph.output_tensors(op)
    data = [t for t in subgraph.input_tensors(op) if not t.is_constant]
    if not outs or not data or not outs[0].shape:
        return 0
    out = outs[0].shape
    if any(t.shape[:-1] != out[:-1] for t in data):
        return 0
    align = rules.channel_selection_alignment
    if op.opcode == "CONCATENATION":
        edges = [t.shape[-1] for t in data]
    else:
        begins = (constant_values(model, subgraph.tensors[op.inputs[1]])
                  if model is not None and len(op.inputs) > 1 else None)
        edges = [begins[-1] if begins else 0, out[-1]]
    if all(edge % align == 0 for edge in edges):
        return 0
    inputs = out[-1] if op.opcode == "CONCATENATION" else data[0].shape[-1]
    size = _matrix_bytes(out[-1], 1, inputs, False, rules.narrow_output_group, rules)
    return _pad(size, rules.block_alignment)


def _elementwise_bytes(model: Model | None, subgraph: Subgraph, op,
                       rules: LayoutRules) -> int:
    """Constant operands (see LayoutRules): a scalar, or a constant whose values are all
    equal, is one value; a per-channel constant applied to an operand of the output's shape
    takes 16 bytes a value; any other is broadcast to the output at one byte a value."""
    inputs = subgraph.input_tensors(op)
    constants = [t for t in inputs if t.is_constant]
    if not constants:
        return 0
    outputs = subgraph.output_tensors(op)
    out_values = outputs[0].num_elements if outputs else 0
    full = any(not t.is_constant and t.num_elements == out_values for t in inputs)
    size = 0
    for tensor in constants:
        values = 1 if _uniform(model, tensor) else tensor.num_elements
        if values == 1 or (full and math.prod(tensor.shape[:-1]) <= 1):
            size += rules.elementwise_bytes_per_value * values
        else:
            size += rules.broadcast_bytes_per_value * out_values
    return size


def _uniform(model: Model | None, tensor: Tensor) -> bool:
    """All values equal (a layer scale left at its initial value, a (1, 2) stride pair),
    judged on the stored bytes."""
    count = tensor.num_elements
    if model is None or not tensor.buffer_offset or count < 2:
        return False
    width = tensor.buffer_size // count
    data = model.buf[tensor.buffer_offset:tensor.buffer_offset + tensor.buffer_size]
    return width > 0 and len(data) == width * count and data == data[:width] * count


def _transpose_bytes(subgraph: Subgraph, op, rules: LayoutRules) -> int:
    """A transpose that moves the channels, laid out as a product with a permutation matrix
    over the other positions (inferred: 20 KB and 287 KB for 11x11 and 22x22 positions, 16.0;
    this formula gives 14 % and 11 % less)."""
    ins, outs = subgraph.input_tensors(op), subgraph.output_tensors(op)
    if not ins or not outs or not ins[0].shape or ins[0].shape[-1] == outs[0].shape[-1]:
        return 0
    positions = ins[0].num_elements // max(1, ins[0].shape[-1])
    return _matrix_bytes(positions, 1, positions, True, rules.narrow_output_group, rules)


def lay_out(model: Model, subgraph: Subgraph, tpu_segments: Sequence[Sequence[int]],
            enable_multiple_subgraphs: bool = False, capacity: int = ON_CHIP_CAPACITY_BYTES,
            rules: LayoutRules = RULES) -> list[SubgraphParameters]:
    """Per Edge TPU subgraph (its ops in execution order), the parameter bytes and their split
    (see fill_cache), every op laid out afresh. `model` gives the constants some layouts read
    (a slice's begin, an element-wise operand whose values are all equal). The estimate keeps
    each op's op_parameters across what-ifs and calls fill_cache itself; this is the whole
    layout in one call, for the tests and the fitting tools."""
    producer = producers(subgraph)
    blocks = [[op_parameters(subgraph, index, producer, rules, model) for index in segment]
              for segment in tpu_segments]
    return fill_cache(tpu_segments, blocks, enable_multiple_subgraphs, capacity)


def fill_cache(tpu_segments: Sequence[Sequence[int]], blocks: Sequence[Sequence[OpParameters]],
               enable_multiple_subgraphs: bool = False,
               capacity: int = ON_CHIP_CAPACITY_BYTES) -> list[SubgraphParameters]:
    """Per Edge TPU subgraph, its ops' parameter blocks (`blocks`, in the order of its ops)
    split between the on-chip cache and streaming.

    Each op's cacheable block goes on-chip while it fits in what is left (the compiler fills
    the cache in order and streams a block that does not fit: the YOLOv5s log leaves 1 KiB);
    with -a the segments share one cache in execution order, as co-compiled models do.
    """
    if len(tpu_segments) > 1 and not enable_multiple_subgraphs:
        raise ValueError("several Edge TPU subgraphs need enable_multiple_subgraphs (-a)")
    free = capacity
    result = []
    for segment, segment_blocks in zip(tpu_segments, blocks, strict=True):
        on_chip = off_chip = 0
        for block in segment_blocks:
            if block.cacheable and block.size <= free:
                on_chip += block.size
                free -= block.size
            else:
                off_chip += block.size
        result.append(SubgraphParameters(tuple(segment), on_chip + off_chip, on_chip,
                                         off_chip))
    return result


def tpu_segments(subgraph: Subgraph, on_tpu: Sequence[bool],
                 flow: Dataflow | None = None) -> list[list[int]]:
    """The ops of each Edge TPU subgraph in execution order, from each op's placement: the
    TPU epochs of TFLite's partitioning (partition.py) over that placement. `flow`: the
    subgraph's dataflow, when the caller has it already."""
    epoch_of = epochs(flow or dataflow(subgraph), on_tpu)
    found: dict[int, list[int]] = {}
    for index, tpu in enumerate(on_tpu):
        if tpu and epoch_of[index] != NO_EPOCH:
            found.setdefault(epoch_of[index], []).append(index)
    return [found[e] for e in sorted(found)]


def compiled_split(package: Package) -> tuple[int, int, int]:
    """The compiler's own figures in one Edge TPU custom op's package: (parameter bytes cached
    on-chip, bytes streamed at every inference, estimated cycles). The PARAMETER_CACHING
    executable holds the cached parameters (and no cycles); the execution executable holds the
    streamed ones and the cycles (0 where the compiler, like 16.0, writes none)."""
    cached = streamed = cycles = 0
    for executable in package.executables:
        if executable.type == "PARAMETER_CACHING":
            cached += executable.parameter_bytes
        else:
            streamed += executable.parameter_bytes
            cycles += executable.estimated_cycles
    return cached, streamed, cycles
