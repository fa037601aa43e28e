"""One tiny model per Edge TPU rule: the exact status string and reason code it must produce."""

from __future__ import annotations

import pytest
from tflite_builder import Op, T, build, ints, u8
from tpulens.analyzer import rules
from tpulens.analyzer.analyze import analyze_model, make_options, to_json
from tpulens.analyzer.model import parse_model
from tpulens.analyzer.vocabulary import Status


def analyze(data: bytes, compiler="16.0", **kw) -> dict:
    return to_json(analyze_model(parse_model(data), make_options(compiler, **kw)))


def conv(inp: str, out: str, shape=(1, 8, 8, 4), **options) -> tuple[list[T], Op]:
    """A mappable 1x1 convolution keeping `shape`, so models around a rule stay quantized."""
    c = shape[-1]
    tensors = [T(f"{out}_w", (c, 1, 1, c), data=bytes(c * c)),
               T(f"{out}_b", (c,), "INT32", data=ints(*[0] * c)), T(out, shape)]
    opts = {"StrideW": 1, "StrideH": 1, **options}
    return tensors, Op("CONV_2D", [inp, f"{out}_w", f"{out}_b"], [out], 1,
                       "Conv2DOptions", opts)


def single(op: Op, tensors: list[T], compiler="16.0", **kw) -> dict:
    """Analyze a model made of `op` alone and return its verdict."""
    return analyze(build(tensors, [op]), compiler, **kw)["ops"][0]


CASES = {
    "SECOND_SUBGRAPH": lambda: analyze(build(
        [T("x", (1, 4)), T("y", (1, 4))], [Op("RELU", ["x"], ["y"])],
        extra_subgraphs=[([T("p", (1, 4)), T("q", (1, 4))], [Op("RELU", ["p"], ["q"])])],
    ))["ops"][1],
    "FLOAT_INPUT_QUANTIZE": lambda: analyze(build(
        [T("f", (1, 8, 8, 4), "FLOAT32", scale=None), T("in", (1, 8, 8, 4)),
         *conv("in", "out")[0]],
        [Op("QUANTIZE", ["f"], ["in"]), conv("in", "out")[1]]))["ops"][0],
    "UNSUPPORTED_DTYPE": lambda: analyze(build(
        [T("in", (1, 8, 8, 4)), *conv("in", "c")[0], T("f", (1, 8, 8, 4), "FLOAT32", scale=None)],
        [conv("in", "c")[1], Op("DEQUANTIZE", ["c"], ["f"])]))["ops"][1],
    "UNSUPPORTED_OP": lambda: single(Op("LEAKY_RELU", ["x"], ["y"], 2),
                                     [T("x", (1, 4, 4, 3)), T("y", (1, 4, 4, 3))]),
    "RUNTIME_TOO_OLD": lambda: single(
        Op("TRANSPOSE", ["x", "perm"], ["y"]),
        [T("x", (1, 4, 6, 3)), T("perm", (4,), "INT32", data=ints(0, 2, 1, 3)),
         T("y", (1, 6, 4, 3))], compiler="15.0"),
    "OP_VERSION": lambda: single(
        Op("RESIZE_BILINEAR", ["x", "size"], ["y"], 3, "ResizeBilinearOptions",
           {"HalfPixelCenters": True}),
        [T("x", (1, 4, 4, 3)), T("size", (2,), "INT32", data=ints(8, 8)),
         T("y", (1, 8, 8, 3))], compiler="15.0"),
    "UNSUPPORTED_RANK": lambda: single(
        Op("ADD", ["a", "b"], ["y"], 1, "AddOptions", {}),
        [T("a", (2, 4, 4, 3)), T("b", (2, 4, 4, 3)), T("y", (2, 4, 4, 3))]),
    "NON_CONST_PARAM": lambda: single(
        Op("FULLY_CONNECTED", ["x", "w"], ["y"], 1, "FullyConnectedOptions", {}),
        [T("x", (1, 16)), T("w", (10, 16)), T("y", (1, 10))]),
    "OUTPUT_NOT_1D": lambda: single(
        Op("FULLY_CONNECTED", ["x", "w"], ["y"], 1, "FullyConnectedOptions", {}),
        [T("x", (2, 16)), T("w", (10, 16), data=bytes(160)), T("y", (2, 10))]),
    "FUSED_ACTIVATION": lambda: single(
        Op("MAX_POOL_2D", ["x"], ["y"], 1, "Pool2DOptions",
           {"StrideW": 2, "StrideH": 2, "FilterWidth": 2, "FilterHeight": 2,
            "FusedActivationFunction": 1}),
        [T("x", (1, 8, 8, 3)), T("y", (1, 4, 4, 3))]),
    "DILATION": lambda: single(
        Op("DEPTHWISE_CONV_2D", ["x", "w", "b"], ["y"], 1, "DepthwiseConv2DOptions",
           {"StrideW": 1, "StrideH": 1, "DepthMultiplier": 1, "DilationWFactor": 1,
            "DilationHFactor": 2}),
        [T("x", (1, 8, 8, 4)), T("w", (1, 3, 3, 4), data=bytes(36)),
         T("b", (4,), "INT32", data=ints(0, 0, 0, 0)), T("y", (1, 8, 8, 4))]),
    "STRIDED_SLICE": lambda: single(
        Op("STRIDED_SLICE", ["x", "begin", "end", "strides"], ["y"], 1, "StridedSliceOptions",
           {}),
        [T("x", (1, 8, 8, 4)), T("begin", (4,), "INT32", data=ints(0, 0, 0, 0)),
         T("end", (4,), "INT32", data=ints(1, 8, 8, 4)),
         T("strides", (4,), "INT32", data=ints(1, 2, 2, 1)), T("y", (1, 4, 4, 4))]),
    "CONST_CONCAT_INPUT": lambda: single(
        Op("CONCATENATION", ["x", "c"], ["y"], 1, "ConcatenationOptions", {"Axis": 3}),
        [T("x", (1, 2, 2, 2)), T("c", (1, 2, 2, 2), data=u8(*[7] * 8)), T("y", (1, 2, 2, 4))]),
    "REDUCE_AXES": lambda: single(
        Op("MEAN", ["x", "axes"], ["y"], 1, "ReducerOptions", {"KeepDims": True}),
        [T("x", (1, 4, 4, 6)), T("axes", (1,), "INT32", data=ints(3)), T("y", (1, 4, 4, 1))]),
    "PAD_CHANNELS": lambda: single(
        Op("PAD", ["x", "pads"], ["y"]),
        [T("x", (1, 4, 4, 3)), T("pads", (4, 2), "INT32", data=ints(0, 0, 0, 0, 0, 0, 0, 1)),
         T("y", (1, 4, 4, 4))], compiler="2.0"),
    "SPLIT_BATCH": lambda: single(
        Op("SPLIT", ["axis", "x"], ["y"], 1, "SplitOptions", {"NumSplits": 1}),
        [T("axis", (), "INT32", data=ints(0)), T("x", (1, 4, 4, 3)), T("y", (1, 4, 4, 3))]),
    "SQUEEZE_RELAYOUT": lambda: single(
        Op("SQUEEZE", ["x"], ["y"], 1, "SqueezeOptions", {"SqueezeDims": [2]}),
        [T("x", (1, 5, 1, 10)), T("y", (1, 5, 10))], compiler="2.0"),
    "SOFTMAX_SIZE": lambda: single(
        Op("SOFTMAX", ["x"], ["y"], 1, "SoftmaxOptions", {"Beta": 1.0}),
        [T("x", (1, 20000)), T("y", (1, 20000))]),
    "PRELU_ALPHA": lambda: single(
        Op("PRELU", ["x", "alpha"], ["y"]),
        [T("x", (1, 4, 4, 3)), T("alpha", (4, 4, 3), data=bytes(48)), T("y", (1, 4, 4, 3))]),
    "WEIGHTS_FORMAT": lambda: single(
        Op("FULLY_CONNECTED", ["x", "w"], ["y"], 1, "FullyConnectedOptions",
           {"WeightsFormat": 1}),
        [T("x", (1, 16)), T("w", (16, 16), data=bytes(256)), T("y", (1, 16))]),
    "RESIZE_UPSCALE": lambda: single(
        Op("RESIZE_BILINEAR", ["x", "size"], ["y"], 1, "ResizeBilinearOptions", {}),
        [T("x", (1, 1, 1, 8)), T("size", (2,), "INT32", data=ints(33, 33)),
         T("y", (1, 33, 33, 8))]),
}


def test_every_rule_has_a_case():
    assert {r.reason_code for r in rules.RULES} == set(CASES)


@pytest.mark.parametrize("rule", rules.RULES, ids=lambda r: r.reason_code)
def test_rule(rule):
    verdict = CASES[rule.reason_code]()
    assert (verdict["placement"], verdict["status"], verdict["reason_code"]) == (
        "CPU", rule.status, rule.reason_code)
    assert rule.text.split(".")[0] in verdict["explanation"]
    assert verdict["fix"] == rule.fix


# ---- the same ops pass when they meet the constraint ---------------------------------------

def test_rules_pass_when_constraints_are_met():
    assert single(Op("TRANSPOSE", ["x", "perm"], ["y"]),
                  [T("x", (1, 4, 6, 3)), T("perm", (4,), "INT32", data=ints(0, 2, 1, 3)),
                   T("y", (1, 6, 4, 3))])["status"] == Status.MAPPED
    assert single(Op("RESIZE_BILINEAR", ["x", "size"], ["y"], 3, "ResizeBilinearOptions",
                     {"HalfPixelCenters": True}),
                  [T("x", (1, 4, 4, 3)), T("size", (2,), "INT32", data=ints(8, 8)),
                   T("y", (1, 8, 8, 3))])["status"] == Status.MAPPED
    zero_pad = single(Op("CONCATENATION", ["x", "c"], ["y"], 1, "ConcatenationOptions",
                         {"Axis": 3}),
                      [T("x", (1, 2, 2, 2)), T("c", (1, 2, 2, 2), data=u8(*[0] * 8)),
                       T("y", (1, 2, 2, 4))])
    assert zero_pad["status"] == Status.MAPPED
    mean_hw = single(Op("MEAN", ["x", "axes"], ["y"], 1, "ReducerOptions", {}),
                     [T("x", (1, 4, 4, 6)), T("axes", (2,), "INT32", data=ints(1, 2)),
                      T("y", (1, 6))])
    assert mean_hw["status"] == Status.MAPPED


def test_requantize_maps_but_not_below_runtime_13():
    tensors = [T("u", (1, 8)), T("s", (1, 8), "INT8")]
    assert single(Op("QUANTIZE", ["u"], ["s"]), tensors)["status"] == Status.MAPPED
    old = single(Op("QUANTIZE", ["u"], ["s"]), tensors, min_runtime_version=12)
    assert (old["status"], old["reason_code"]) == (Status.UNSUPPORTED_OP, "RUNTIME_TOO_OLD")


def test_unknown_op_on_int32_side_output_is_not_a_dtype_problem():
    verdict = single(Op("TOPK_V2", ["x", "k"], ["v", "i"]),
                     [T("x", (1, 10)), T("k", (), "INT32", data=ints(3)), T("v", (1, 3)),
                      T("i", (1, 3), "INT32", scale=None)])
    assert verdict["status"] == Status.UNSUPPORTED_OP


# ---- model-level failures ----------------------------------------------------------------

def test_float_model_is_rejected_whole():
    data = build([T("x", (1, 4), "FLOAT32", scale=None), T("y", (1, 4), "FLOAT32", scale=None)],
                 [Op("RELU", ["x"], ["y"])])
    result = analyze(data)
    assert result["errors"] == ["Model not quantized"]
    assert result["summary"]["verdict"] == "fails"
    assert result["ops"][0]["reason_code"] == "MODEL_REJECTED"


def test_shape_computed_at_run_time_is_rejected():
    data = build([T("x", (1, 4, 4, 2)), T("s", (4,), "INT32", scale=None), T("y", (1, 32))],
                 [Op("SHAPE", ["x"], ["s"]), Op("RESHAPE", ["x", "s"], ["y"])])
    errors = analyze(data)["errors"]
    assert len(errors) == 1 and errors[0].startswith("Attempting to use a delegate that only")


def test_dynamic_batch_in_signature_alone_is_accepted():
    """Two corpus models with shape_signature -1 compiled fine: only run-time shapes fail."""
    data = build([T("x", (1, 4), shape_signature=(-1, 4)), T("y", (1, 4))],
                 [Op("RELU", ["x"], ["y"])])
    assert analyze(data)["errors"] == []
