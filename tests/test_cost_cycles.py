"""The Edge TPU cycle model: per-op costs on tiny built models, and agreement with the
compiler's own `estimated_cycles` on the compiled models of the corpus."""

from __future__ import annotations

import csv

from tflite_builder import Op, T, build, ints

from tpulens.analyzer.compiled import custom_ops
from tpulens.analyzer.cycles import CHIP, segment_cycles
from tpulens.analyzer.ground_truth import match_placement
from tpulens.analyzer.model import parse_model, read_model
from tpulens.analyzer.vocabulary import Placement

# Arithmetic only: no activation traffic, so expectations are plain products.
ARITHMETIC = CHIP._replace(activation_bytes_per_cycle=float("inf"))


def conv(inp, out, shape_in, cout, kernel=1, stride=1, padding=0):
    """A CONV_2D from `inp` (NHWC) to `cout` channels, SAME padding unless told."""
    cin = shape_in[-1]
    rows = -(-shape_in[1] // stride) if padding == 0 else (shape_in[1] - kernel) // stride + 1
    cols = -(-shape_in[2] // stride) if padding == 0 else (shape_in[2] - kernel) // stride + 1
    tensors = [T(f"{out}_w", (cout, kernel, kernel, cin), data=bytes(cout * kernel ** 2 * cin)),
               T(f"{out}_b", (cout,), "INT32", data=ints(*[0] * cout)),
               T(out, (1, rows, cols, cout))]
    op = Op("CONV_2D", [inp, f"{out}_w", f"{out}_b"], [out], 1, "Conv2DOptions",
            {"StrideW": stride, "StrideH": stride, "Padding": padding})
    return tensors, op


def cycles(tensors, ops, chip=CHIP) -> int:
    model = parse_model(build(tensors, ops))
    sg = model.subgraphs[0]
    return segment_cycles(model, sg, [op.index for op in sg.operators], chip)


def one_conv(shape_in, cout, chip=ARITHMETIC, **kw) -> int:
    tensors, op = conv("x", "y", shape_in, cout, **kw)
    return cycles([T("x", shape_in), *tensors], [op], chip)


def test_convolution_costs_taps_times_channel_groups_per_tile_pixel():
    # 8x8 output over a 4x4 grid: 2x2 pixels per tile; 3x3 taps; ceil(16/4) input groups;
    # ceil(32/16) output groups: 4 * 9 * 4 * 2.
    assert one_conv((1, 8, 8, 16), 32, kernel=3) == 288


def test_activation_traffic_adds_to_the_arithmetic():
    # 288 cycles of arithmetic, plus (8*8*16 read + 8*8*32 written) bytes over 16 tiles at
    # 12.6 bytes per tile and cycle: 15.2.
    assert one_conv((1, 8, 8, 16), 32, chip=CHIP, kernel=3) == 303


def test_cycles_grow_with_the_multiply_accumulates():
    base = one_conv((1, 16, 16, 32), 32)
    assert one_conv((1, 16, 16, 32), 64) == 2 * base  # twice the output channels
    assert one_conv((1, 16, 16, 64), 32) == 2 * base  # twice the input channels
    assert one_conv((1, 32, 32, 32), 32) == 4 * base  # four times the pixels
    assert one_conv((1, 16, 16, 32), 32, kernel=3) == 9 * base  # nine taps


def test_channels_are_counted_in_whole_lane_groups():
    # 17 output channels take two groups of 16, as 32 do; 5 input channels two groups of 4.
    assert one_conv((1, 16, 16, 32), 17) == one_conv((1, 16, 16, 32), 32)
    assert one_conv((1, 16, 16, 5), 16) == one_conv((1, 16, 16, 8), 16)


def test_depthwise_convolution_uses_vector_lanes():
    c = 64
    tensors = [T("x", (1, 16, 16, c)), T("w", (1, 3, 3, c), data=bytes(9 * c)),
               T("b", (c,), "INT32", data=ints(*[0] * c)), T("y", (1, 16, 16, c))]
    op = Op("DEPTHWISE_CONV_2D", ["x", "w", "b"], ["y"], 1, "DepthwiseConv2DOptions",
            {"StrideW": 1, "StrideH": 1, "DepthMultiplier": 1})
    # 4x4 pixels per tile, 9 taps, ceil(64/32) channel groups.
    assert cycles(tensors, [op], ARITHMETIC) == 16 * 9 * 2
    # The same MACs as a full convolution would cost 16 * 9 * ceil(64/4) * ceil(64/16).
    assert cycles(tensors, [op], ARITHMETIC) < one_conv((1, 16, 16, c), c, kernel=3) / 30


def test_transposed_convolution_gathers_a_stride_squared_share_of_its_taps():
    tensors = [T("shape", (4,), "INT32", data=ints(1, 16, 16, 16)),
               T("w", (16, 3, 3, 16), data=bytes(16 * 9 * 16)), T("x", (1, 8, 8, 16)),
               T("y", (1, 16, 16, 16))]
    op = Op("TRANSPOSE_CONV", ["shape", "w", "x"], ["y"], 1, "TransposeConvOptions",
            {"StrideW": 2, "StrideH": 2, "Padding": 0})
    # 4x4 output pixels per tile, 9/4 taps per output pixel, ceil(16/4) x ceil(16/16).
    assert cycles(tensors, [op], ARITHMETIC) == 16 * 9 // 4 * 4


def test_a_mean_over_the_image_reads_each_input_pixel_once():
    tensors = [T("x", (1, 8, 8, 64)), T("axes", (2,), "INT32", data=ints(1, 2)),
               T("y", (1, 1, 1, 64))]
    op = Op("MEAN", ["x", "axes"], ["y"], 1, "ReducerOptions", {"KeepDims": True})
    # 2x2 input pixels per tile, ceil(64/32) channel groups.
    assert cycles(tensors, [op], ARITHMETIC) == CHIP.floor_cycles  # 8 cycles, raised
    assert cycles([T("x", (1, 32, 32, 64)), *tensors[1:]], [op], ARITHMETIC) == 8 * 8 * 2


def test_small_outputs_share_channel_groups_over_idle_tiles():
    """A 1x1 output keeps one tile busy per group of 16 output channels: 1001 and 965 classes
    both take ceil(ceil(n/16)/16) = 4 groups per tile, as the compiler's equal cycles for
    MobileNet v2 with either classifier show."""
    def classifier(classes):
        tensors = [T("x", (1, 1280)), T("w", (classes, 1280), data=bytes(classes * 1280)),
                   T("b", (classes,), "INT32", data=ints(*[0] * classes)),
                   T("y", (1, classes))]
        op = Op("FULLY_CONNECTED", ["x", "w", "b"], ["y"], 1)
        return cycles(tensors, [op], ARITHMETIC)

    assert classifier(1001) == classifier(965) == 320 * 4


def test_elementwise_ops_ride_on_the_op_before_them():
    tensors, op = conv("x", "y", (1, 16, 16, 32), 32)
    alone = cycles([T("x", (1, 16, 16, 32)), *tensors], [op])
    extra = [T("z", (1, 16, 16, 32)), T("r", (1, 256, 32)), T("shape", (3,), "INT32",
                                                             data=ints(1, 256, 32))]
    ops = [op, Op("ADD", ["y", "y"], ["z"], 1, "AddOptions", {}),
           Op("RESHAPE", ["z", "shape"], ["r"], 1)]
    assert cycles([T("x", (1, 16, 16, 32)), *tensors, *extra], ops) == alone


def test_a_tiny_subgraph_costs_the_pipeline_floor():
    # A 1x1 convolution with stride 64 reads one pixel of a 64x64 image: one cycle of
    # arithmetic, raised to the 16-cycle floor; the pixels it skips are never moved.
    assert one_conv((1, 64, 64, 3), 1, chip=CHIP, stride=64, padding=1) == CHIP.floor_cycles


def test_no_ops_cost_nothing():
    model = parse_model(build([T("x", (1, 4)), T("y", (1, 4))],
                              [Op("RELU", ["x"], ["y"], 1)]))
    assert segment_cycles(model, model.subgraphs[0], []) == 0


# ---- the compiler's figures -----------------------------------------------------------------

BAND = 0.20


def _compiled_with_cycles(corpus):
    """(name, CPU model, ops of its one Edge TPU subgraph, the compiler's cycles) for every
    placement-truth pair whose compiled model carries cycles (compilers 1.0 to 15.0)."""
    with open(corpus / "PAIRS.tsv", newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t")
                if r["edgetpu_model"] and not r["caveat"].startswith("exclude")]
    found = []
    for row in rows:
        compiled = read_model(corpus / row["edgetpu_model"])
        packages = [c.package for c in custom_ops(compiled) if c.package]
        figures = [sum(e.estimated_cycles for e in p.executables) for p in packages]
        if len(figures) != 1 or not figures[0]:
            continue
        cpu = read_model(corpus / row["cpu_model"])
        placement = match_placement(cpu, compiled).placement
        ops = [i for (s, i), p in placement.items() if s == 0 and p == Placement.TPU]
        found.append((row["cpu_model"], cpu, ops, figures[0]))
    return found


def test_cycles_agree_with_the_compiler_on_the_corpus(corpus):
    pairs = _compiled_with_cycles(corpus)
    assert len(pairs) >= 40, "the corpus should hold at least 40 compiled models with cycles"
    misses = []
    for name, model, ops, truth in pairs:
        predicted = segment_cycles(model, model.subgraphs[0], ops)
        if abs(predicted / truth - 1) > BAND:
            misses.append(f"{name}: {predicted} cycles, compiler {truth}")
    assert len(misses) <= 0.10 * len(pairs), misses

