"""Estimate the Edge TPU compiler's `estimated_cycles` for one Edge TPU subgraph.

The chip, as the compiler's own figures show it: a 4x4 grid of tiles shares out every op's
output, by rows and columns first (a tile computes ceil(H/4) x ceil(W/4) output pixels) and,
when the output has fewer rows or columns than the grid, by groups of output channels too. A
tile multiplies 4 input channels by 16 output channels per cycle, so a convolution costs, per
output pixel of a tile, taps x ceil(Cin/4) x ceil(Cout/16) cycles. Depthwise convolutions and
pools run on vector lanes, one kernel tap of a group of channels per cycle. Element-wise ops
(add, mul, activations, requantization) ride on the op that produces their input and cost no
cycle of their own; reshapes cost nothing. Every op also moves its activations through the
tiles' memory at a fixed rate. A subgraph never costs fewer cycles than the pipeline floor.

Every constant below names its evidence; docs/edgetpu-performance.md gives the fit and its
error on the corpus of compiled models.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

from tpulens.analyzer.model import Model, Operator, Subgraph


class Chip(NamedTuple):
    """The constants of the cycle model (the defaults are the corpus fit)."""

    # Observed in compiler output: a lone 3x3 convolution over a 50x50 image costs 52x52
    # cycles (13x13 output pixels per tile); ten 7x7 convolutions over 128x128 cost an exact
    # multiple of 32x32.
    tile_grid: int = 4
    # Observed in compiler output: 7x7 convolutions of 3 and 32 input channels into 32 output
    # channels cost exactly 2 and 16 cycles per tile pixel and tap: ceil(Cin/4) x ceil(Cout/16).
    conv_in_lanes: int = 4
    conv_out_lanes: int = 16
    # Inferred (corpus fit): channels a depthwise convolution or a pool treats per tap and cycle.
    vector_lanes: int = 32
    # Inferred (corpus fit): activation bytes (inputs read plus output written) a tile moves per
    # cycle, on top of its arithmetic.
    activation_bytes_per_cycle: float = 12.6
    # Observed in compiler output: subgraphs of one tiny op report 16 cycles.
    floor_cycles: int = 16


CHIP = Chip()

CONV_OPS = frozenset({"CONV_2D", "TRANSPOSE_CONV"})
DEPTHWISE_OPS = frozenset({"DEPTHWISE_CONV_2D"})
MATMUL_OPS = frozenset({"FULLY_CONNECTED"})
POOL_OPS = frozenset({"AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"})
REDUCE_OPS = frozenset({"MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"})
# Ops that only move data: they cost the activations they move.
COPY_OPS = frozenset({"MIRROR_PAD", "CONCATENATION", "PACK", "UNPACK", "SLICE",
                      "STRIDED_SLICE", "SPLIT", "SPLIT_V", "TILE", "RESIZE_BILINEAR",
                      "RESIZE_NEAREST_NEIGHBOR", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE",
                      "TRANSPOSE", "GATHER"})
# Every other op costs no cycle of its own. Reshapes rename a buffer; a zero PAD becomes the
# padding of the window op that reads it (observed: a pad before a strided convolution adds
# nothing to the 16-cycle floor); element-wise ops (add, mul, activations, softmax,
# requantization) ride on the output pipeline of the op before them (observed: 500 chained
# ADDs over 256x256x3 add nothing to the floor, and MobileNet v2 fits without its residual
# ADDs).


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def nhwc(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A shape as (batch, rows, columns, channels); extra middle axes fold into rows."""
    if len(shape) == 4 and min(shape) > 0:
        return shape  # already four axes, none empty or unknown
    dims = [max(d, 1) for d in shape] or [1]
    if len(dims) > 4:
        dims = [dims[0], math.prod(dims[1:-2]), dims[-2], dims[-1]]
    dims = [1] * (4 - len(dims)) + dims
    return dims[0], dims[1], dims[2], dims[3]


def tile_share(shape: tuple[int, ...], lanes: int, chip: Chip = CHIP) -> tuple[int, int]:
    """What one tile computes of an op's output: (pixels, groups of `lanes` output channels).
    Rows and columns are shared out over the grid first; tiles left idle by a small output
    take groups of output channels instead."""
    batch, rows, cols, channels = nhwc(shape)
    row_tiles, col_tiles = min(chip.tile_grid, rows), min(chip.tile_grid, cols)
    channel_tiles = chip.tile_grid ** 2 // (row_tiles * col_tiles)
    pixels = batch * _ceil(rows, row_tiles) * _ceil(cols, col_tiles)
    return pixels, _ceil(_ceil(channels, lanes), channel_tiles)


def _read_extent(size_in: int, size_out: int, kernel: int, stride: int) -> int:
    """Input rows (or columns) a window reads: a stride longer than the kernel skips rows."""
    if kernel >= stride:
        return size_in
    return min(size_in, size_out * kernel)


_WEIGHTED_WINDOW_OPS = CONV_OPS | DEPTHWISE_OPS


def _kernel(sg: Subgraph, op: Operator) -> tuple[int, int] | None:
    """(rows, columns) of the op's window, or None for an op that is not a sliding window."""
    if op.opcode in POOL_OPS:
        return op.options.get("filter_height", 1), op.options.get("filter_width", 1)
    if op.opcode in _WEIGHTED_WINDOW_OPS and len(op.inputs) > 1 and op.inputs[1] >= 0:
        _, kh, kw, _ = nhwc(sg.tensors[op.inputs[1]].shape)
        return kh, kw
    return None


def _activation_bytes(sg: Subgraph, op: Operator) -> int:
    """Bytes of activations the op reads and writes (8-bit: one byte per element)."""
    out = [sg.tensors[t] for t in op.outputs if t >= 0]
    ins = [sg.tensors[t] for t in op.inputs if t >= 0 and not sg.tensors[t].is_constant]
    kernel = _kernel(sg, op) if op.opcode != "TRANSPOSE_CONV" else None
    total = sum(t.num_elements for t in out)
    if kernel is None or not out:
        return total + sum(t.num_elements for t in ins)
    _, out_rows, out_cols, _ = nhwc(out[0].shape)
    stride_h, stride_w = op.options.get("stride_h", 1) or 1, op.options.get("stride_w", 1) or 1
    for t in ins:
        batch, rows, cols, channels = nhwc(t.shape)
        total += batch * channels * (_read_extent(rows, out_rows, kernel[0], stride_h)
                                     * _read_extent(cols, out_cols, kernel[1], stride_w))
    return total


def _arithmetic(sg: Subgraph, op: Operator, chip: Chip) -> float:
    """Cycles a tile spends computing its share of the op's output."""
    out = sg.tensors[op.outputs[0]].shape
    weights = sg.tensors[op.inputs[1]].shape if len(op.inputs) > 1 and op.inputs[1] >= 0 else ()
    if op.opcode in CONV_OPS and weights:
        _, kh, kw, cin = nhwc(weights)
        pixels, groups = tile_share(out, chip.conv_out_lanes, chip)
        taps = kh * kw
        if op.opcode == "TRANSPOSE_CONV":  # an output pixel gathers 1/stride^2 of the taps
            taps /= (op.options.get("stride_h", 1) or 1) * (op.options.get("stride_w", 1) or 1)
        return pixels * taps * _ceil(cin, chip.conv_in_lanes) * groups
    if op.opcode in MATMUL_OPS and weights:
        rows = math.prod(out[:-1]) if out else 1  # each row of the batch is one pixel
        pixels, groups = tile_share((1, rows, 1, out[-1] if out else 1), chip.conv_out_lanes, chip)
        return pixels * _ceil(weights[-1], chip.conv_in_lanes) * groups
    if op.opcode in DEPTHWISE_OPS and weights:
        _, kh, kw, _ = nhwc(weights)
        pixels, groups = tile_share(out, chip.vector_lanes, chip)
        return pixels * kh * kw * groups
    if op.opcode in POOL_OPS:
        taps = op.options.get("filter_height", 1) * op.options.get("filter_width", 1)
        pixels, groups = tile_share(out, chip.vector_lanes, chip)
        return pixels * taps * groups
    if op.opcode in REDUCE_OPS:
        pixels, groups = tile_share(sg.tensors[op.inputs[0]].shape, chip.vector_lanes, chip)
        return pixels * groups
    return 0.0  # data movement only


_COSTED = CONV_OPS | DEPTHWISE_OPS | MATMUL_OPS | POOL_OPS | REDUCE_OPS | COPY_OPS


def op_cycles(sg: Subgraph, op: Operator, chip: Chip = CHIP) -> float:
    """Cycles of one op: its arithmetic on one tile plus its activations through the tile."""
    if op.opcode not in _COSTED or not op.outputs:
        return 0.0
    moved = _activation_bytes(sg, op) / chip.tile_grid ** 2 / chip.activation_bytes_per_cycle
    return _arithmetic(sg, op, chip) + moved


def segment_cycles(model: Model, subgraph: Subgraph, ops: list[int], chip: Chip = CHIP) -> int:
    """The compiler's `estimated_cycles` for the Edge TPU subgraph made of `ops`."""
    del model  # shapes and options are all in the subgraph; the signature matches its peers
    return total_cycles((op_cycles(subgraph, subgraph.operators[i], chip) for i in ops), chip)


def total_cycles(per_op: Iterable[float], chip: Chip = CHIP) -> int:
    """A subgraph's cycles from its ops' (the sum, never under the floor; 0 without ops)."""
    costs = list(per_op)
    return max(chip.floor_cycles, round(sum(costs))) if costs else 0
