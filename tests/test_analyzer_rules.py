"""One tiny model per Edge TPU rule, on each side of its boundary: the exact status string and
reason code it must produce when it fires, and a mapped op when the same op just meets it."""

from __future__ import annotations

import re

import pytest
from tflite_builder import Op, T, build, ints, u8

from tpulens.analyzer import rules
from tpulens.analyzer.analyze import analyze_model, make_options, to_json
from tpulens.analyzer.corpus_citations import SEEN_IN
from tpulens.analyzer.model import parse_model
from tpulens.analyzer.vocabulary import EvidenceKind, Status
from tpulens.cli import main


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


def unary(opcode: str, shape_in, shape_out=None, dtype="INT8", version=1, **kw) -> dict:
    shape_out = shape_out or shape_in
    return single(Op(opcode, ["x"], ["y"], version),
                  [T("x", shape_in, dtype), T("y", shape_out, dtype)], **kw)


def transpose(shape, perm) -> dict:
    out = tuple(shape[p] for p in perm)
    return single(Op("TRANSPOSE", ["x", "perm"], ["y"]),
                  [T("x", shape, "INT8"), T("perm", (len(perm),), "INT32", data=ints(*perm)),
                   T("y", out, "INT8")])


def reshape(shape_in, shape_out) -> dict:
    return single(Op("RESHAPE", ["x", "s"], ["y"]),
                  [T("x", shape_in, "INT8"), T("s", (len(shape_out),), "INT32",
                                               data=ints(*shape_out)), T("y", shape_out, "INT8")])


def resize(factor: int) -> dict:
    return single(Op("RESIZE_BILINEAR", ["x", "size"], ["y"], 1, "ResizeBilinearOptions", {}),
                  [T("x", (1, 1, 1, 8)), T("size", (2,), "INT32", data=ints(factor, factor)),
                   T("y", (1, factor, factor, 8))])


def split(shape, axis) -> dict:
    n = shape[axis]
    piece = tuple(1 if i == axis else d for i, d in enumerate(shape))
    return single(Op("SPLIT", ["axis", "x"], [f"y{i}" for i in range(n)], 2, "SplitOptions",
                     {"NumSplits": n}),
                  [T("axis", (), "INT32", data=ints(axis)), T("x", shape, "INT8"),
                   *[T(f"y{i}", piece, "INT8") for i in range(n)]])


def depthwise(dilation_h: int, dilation_w: int, **kw) -> dict:
    return single(
        Op("DEPTHWISE_CONV_2D", ["x", "w", "b"], ["y"], 1, "DepthwiseConv2DOptions",
           {"StrideW": 1, "StrideH": 1, "DepthMultiplier": 1, "DilationWFactor": dilation_w,
            "DilationHFactor": dilation_h}),
        [T("x", (1, 8, 8, 4)), T("w", (1, 3, 3, 4), data=bytes(36)),
         T("b", (4,), "INT32", data=ints(0, 0, 0, 0)), T("y", (1, 8, 8, 4))], **kw)


def mean(axes, shape=(1, 4, 4, 8), **kw) -> dict:
    out = tuple(1 if i in axes else d for i, d in enumerate(shape))
    return single(Op("MEAN", ["x", "axes"], ["y"], 1, "ReducerOptions", {"KeepDims": True}),
                  [T("x", shape), T("axes", (len(axes),), "INT32", data=ints(*axes)),
                   T("y", out)], **kw)


def fully_connected(batch: int, weights_constant=True, **kw) -> dict:
    w = T("w", (10, 16), data=bytes(160) if weights_constant else None)
    return single(Op("FULLY_CONNECTED", ["x", "w"], ["y"], 1, "FullyConnectedOptions", {}),
                  [T("x", (batch, 16)), w, T("y", (batch, 10))], **kw)


def add(version: int, shape=(1, 4, 4, 3)) -> dict:
    return single(Op("ADD", ["a", "b"], ["y"], version, "AddOptions", {}),
                  [T("a", shape, "INT8"), T("b", shape, "INT8"), T("y", shape, "INT8")])


def strided_slice(strides) -> dict:
    return single(
        Op("STRIDED_SLICE", ["x", "begin", "end", "strides"], ["y"], 1, "StridedSliceOptions",
           {}),
        [T("x", (1, 8, 8, 4)), T("begin", (4,), "INT32", data=ints(0, 0, 0, 0)),
         T("end", (4,), "INT32", data=ints(1, 8, 8, 4)),
         T("strides", (4,), "INT32", data=ints(*strides)),
         T("y", (1, 8 // strides[1], 8 // strides[2], 4))])


def concat_with_constant(value: int) -> dict:
    return single(Op("CONCATENATION", ["x", "c"], ["y"], 1, "ConcatenationOptions",
                     {"Axis": 3}),
                  [T("x", (1, 2, 2, 2)), T("c", (1, 2, 2, 2), data=u8(*[value] * 8)),
                   T("y", (1, 2, 2, 4))])


def pad(pads, compiler) -> dict:
    out = tuple(d + pads[2 * i] + pads[2 * i + 1] for i, d in enumerate((1, 4, 4, 3)))
    return single(Op("PAD", ["x", "pads"], ["y"]),
                  [T("x", (1, 4, 4, 3)), T("pads", (4, 2), "INT32", data=ints(*pads)),
                   T("y", out)], compiler=compiler)


def squeeze(shape, dims, out) -> dict:
    return single(Op("SQUEEZE", ["x"], ["y"], 1, "SqueezeOptions", {"SqueezeDims": dims}),
                  [T("x", shape), T("y", out)], compiler="2.0")


def prelu(alpha_shape) -> dict:
    n = 1
    for d in alpha_shape:
        n *= d
    return single(Op("PRELU", ["x", "alpha"], ["y"]),
                  [T("x", (1, 4, 4, 3)), T("alpha", alpha_shape, data=bytes(n)),
                   T("y", (1, 4, 4, 3))])


def pool(activation: int) -> dict:
    return single(Op("MAX_POOL_2D", ["x"], ["y"], 1, "Pool2DOptions",
                     {"StrideW": 2, "StrideH": 2, "FilterWidth": 2, "FilterHeight": 2,
                      "FusedActivationFunction": activation}),
                  [T("x", (1, 8, 8, 3)), T("y", (1, 4, 4, 3))])


def second_subgraph() -> dict:
    return analyze(build(
        [T("x", (1, 4)), T("y", (1, 4))], [Op("RELU", ["x"], ["y"])],
        extra_subgraphs=[([T("p", (1, 4)), T("q", (1, 4))], [Op("RELU", ["p"], ["q"])])],
    ))["ops"][1]


def quantize_from(dtype: str) -> dict:
    ta, oa = conv("in", "out")
    return analyze(build(
        [T("f", (1, 8, 8, 4), dtype, scale=None if dtype.startswith("FLOAT") else 0.1),
         T("in", (1, 8, 8, 4)), *ta], [Op("QUANTIZE", ["f"], ["in"]), oa]))["ops"][0]


# The compiler's per-op status strings as its output prints them, with where it does.
MAPPED = "Mapped to Edge TPU"  # logs/EdgeTPU_Analysis__Ops__model_conv__*_edgetpu.log
AFTER_PARTITION = "More than one subgraph is not supported"  # logs/issue-edgetpu-317-a.log
UNSPECIFIED = ("Operation is otherwise supported, but not mapped due to some unspecified "
               "limitation")  # logs/issue-edgetpu-317-a.log, logs/issue-edgetpu-490-a.log
DTYPE = "Operation is working on an unsupported data type"  # logs/Helmet-Detection__*.log
NOT_SUPPORTED = "Operation not supported"  # logs/issue-edgetpu-317-a.log
VERSION = "Operation version not supported"  # logs/issue-edgetpu-420.log
# google-coral/edgetpu#30 and #708 (logs/SOURCES.tsv: the line cut from issue-edgetpu-708-a.log)
RANK = "Tensor has unsupported rank (up to 3 innermost dimensions mapped)"
NOT_CONSTANT = "Filter, bias, or other param is not constant at compile-time"  # edgetpu#25
OUTPUT_2D = "For example, a fully-connected or softmax layer with 2D output"  # issue-edgetpu-27.log

# reason code -> (the status the compiler gives, a model where the rule fires, the same op just
# meeting the constraint). Limits are written as numbers: the side that fires is one past the
# limit, the side that passes is the limit itself.
BOUNDARIES = {
    "SECOND_SUBGRAPH": (AFTER_PARTITION, second_subgraph,
                        lambda: unary("RELU", (1, 4), dtype="UINT8")),
    "FLOAT_INPUT_QUANTIZE": (UNSPECIFIED, lambda: quantize_from("FLOAT32"),
                             lambda: quantize_from("UINT8")),
    "UNSUPPORTED_DTYPE": (DTYPE, lambda: unary("RELU", (1, 4), dtype="FLOAT32"),
                          lambda: unary("RELU", (1, 4), dtype="INT8")),
    "UNSUPPORTED_OP": (NOT_SUPPORTED, lambda: before_a_conv("LEAKY_RELU"),
                       lambda: before_a_conv("RELU")),
    # Coral's table: Rsqrt needs runtime 14.
    "RUNTIME_TOO_OLD": (NOT_SUPPORTED, lambda: unary("RSQRT", (1, 4), min_runtime_version=13),
                        lambda: unary("RSQRT", (1, 4), min_runtime_version=14)),
    # Before compiler 16, ResizeNearestNeighbor is mapped up to version 2 (edgetpu#206).
    "OP_VERSION": (VERSION, lambda: resize_nearest(3, "15.0"),
                   lambda: resize_nearest(2, "15.0")),
    # op_version.cc: ADD version 4 is the int64 kernel's, version 2 an 8-bit one.
    "NON_8BIT_KERNEL_VERSION": (VERSION, lambda: add(4), lambda: add(2)),
    "UNSUPPORTED_RANK": (RANK, lambda: add(2, (2, 4, 4, 3)), lambda: add(2, (1, 4, 4, 3))),
    "NON_CONST_PARAM": (NOT_CONSTANT, lambda: fully_connected(1, False, compiler="15.0"),
                        lambda: fully_connected(1, True, compiler="15.0")),
    "OUTPUT_NOT_1D": (OUTPUT_2D, lambda: fully_connected(2, compiler="15.0"),
                      lambda: fully_connected(1, compiler="15.0")),
    "FUSED_ACTIVATION": (UNSPECIFIED, lambda: pool(1), lambda: pool(0)),
    "DILATION": (UNSPECIFIED, lambda: depthwise(2, 1), lambda: depthwise(2, 2)),
    "DILATION_OLD_RUNTIME": (UNSPECIFIED, lambda: depthwise(2, 2, min_runtime_version=12),
                             lambda: depthwise(1, 1, min_runtime_version=12)),
    "STRIDED_SLICE": (UNSPECIFIED, lambda: strided_slice((1, 2, 2, 1)),
                      lambda: strided_slice((1, 1, 1, 1))),
    "CONST_CONCAT_INPUT": (UNSPECIFIED, lambda: concat_with_constant(7),
                           lambda: concat_with_constant(0)),
    "REDUCE_AXES_OLD_RUNTIME": (UNSPECIFIED, lambda: mean((3,), min_runtime_version=12),
                                lambda: mean((1, 2), min_runtime_version=12)),
    # A reduction over channels needs a channel count divisible by 4.
    "REDUCE_AXES": (UNSPECIFIED, lambda: mean((3,), (1, 4, 4, 6)),
                    lambda: mean((3,), (1, 4, 4, 8))),
    "PAD_CHANNELS": (UNSPECIFIED, lambda: pad((0, 0, 0, 0, 0, 0, 0, 1), "2.0"),
                     lambda: pad((0, 0, 1, 1, 1, 1, 0, 0), "2.0")),
    "SPLIT_FIRST_AXIS": (UNSPECIFIED, lambda: split((4, 49, 32), 0),
                         lambda: split((1, 4, 32), 1)),
    "SQUEEZE_RELAYOUT": (UNSPECIFIED, lambda: squeeze((1, 5, 1, 10), [2], (1, 5, 10)),
                         lambda: squeeze((1, 1, 5, 10), [1], (1, 5, 10))),
    # Coral's 2019 ops table: Softmax takes at most 16,000 elements (compilers before 16).
    "SOFTMAX_SIZE": (UNSPECIFIED, lambda: unary("SOFTMAX", (1, 16_001), compiler="15.0"),
                     lambda: unary("SOFTMAX", (1, 16_000), compiler="15.0")),
    "PRELU_ALPHA": (UNSPECIFIED, lambda: prelu((4, 4, 3)), lambda: prelu((1, 1, 3))),
    "WEIGHTS_FORMAT": (UNSPECIFIED, lambda: weights_format(1), lambda: weights_format(0)),
    # Estimated at 8x: deeplabv3_mnv2_pascal_quant.tflite#63 (33x) is refused, none mapped.
    "RESIZE_UPSCALE": (UNSPECIFIED, lambda: resize(9), lambda: resize(8)),
    # Fitted at 90,000 input elements: mapped up to 69,696, refused from 112,896 (the YOLOv8n
    # and YOLOv5nu heads, ultralytics#4089).
    "TRANSPOSE_SIZE": (UNSPECIFIED, lambda: transpose((1, 300, 301, 1), (0, 3, 1, 2)),
                       lambda: transpose((1, 300, 300, 1), (0, 3, 1, 2))),
    # Fitted at 800,000 elements: 408,000 mapped, 1,632,000 refused (yolov5n-int8.tflite).
    "RESHAPE_SIZE": (UNSPECIFIED, lambda: reshape((1, 1000, 801, 1), (1, 801, 1000, 1)),
                     lambda: reshape((1, 1000, 800, 1), (1, 800, 1000, 1))),
    # Fitted at a row of 200,000 values: mapped up to 174,447, refused from 408,000; the
    # ultralytics#4719 log puts the limit below 230,400.
    "ROW_SIZE": (UNSPECIFIED, lambda: unary("RELU", (1, 1, 200_001)),
                 lambda: unary("RELU", (1, 1, 200_000))),
}


def before_a_conv(opcode: str) -> dict:
    """`opcode` feeding a mappable convolution (so it is not at the model's tail)."""
    tc, oc = conv("y", "c")
    return analyze(build([T("x", (1, 8, 8, 4)), T("y", (1, 8, 8, 4)), *tc],
                         [Op(opcode, ["x"], ["y"]), oc]))["ops"][0]


def resize_nearest(version: int, compiler: str) -> dict:
    return single(Op("RESIZE_NEAREST_NEIGHBOR", ["x", "size"], ["y"], version,
                     "ResizeNearestNeighborOptions", {"HalfPixelCenters": version == 3}),
                  [T("x", (1, 4, 4, 3)), T("size", (2,), "INT32", data=ints(8, 8)),
                   T("y", (1, 8, 8, 3))], compiler=compiler)


def weights_format(fmt: int) -> dict:
    return single(Op("FULLY_CONNECTED", ["x", "w"], ["y"], 1, "FullyConnectedOptions",
                     {"WeightsFormat": fmt}),
                  [T("x", (1, 16)), T("w", (16, 16), data=bytes(256)), T("y", (1, 16))])


OP_RULES = rules.of_scope(rules.Scope.OP)


def test_every_op_rule_has_a_boundary_case():
    assert {r.reason_code for r in OP_RULES} == set(BOUNDARIES)


@pytest.mark.parametrize("rule", OP_RULES, ids=lambda r: r.reason_code)
def test_rule_fires(rule):
    status, fires, _ = BOUNDARIES[rule.reason_code]
    verdict = fires()
    assert (verdict["placement"], verdict["status"], verdict["reason_code"]) == (
        "CPU", status, rule.reason_code)
    assert rule.text.split(".")[0] in verdict["explanation"]
    assert verdict["fix"] == rule.fix_for(verdict["opcode"])


@pytest.mark.parametrize("rule", OP_RULES, ids=lambda r: r.reason_code)
def test_rule_passes_at_its_boundary(rule):
    verdict = BOUNDARIES[rule.reason_code][2]()
    assert verdict["reason_code"] != rule.reason_code
    assert (verdict["placement"], verdict["status"]) == ("TPU", MAPPED), verdict


@pytest.mark.parametrize("rule", [r for r in OP_RULES if r.limit is None],
                         ids=lambda r: r.reason_code)
def test_a_refusal_is_unsure_exactly_when_its_rule_is_inferred(rule):
    verdict = BOUNDARIES[rule.reason_code][1]()
    support = rules.SUPPORTED_OPS.get(verdict["opcode"])
    inferred = rule.evidence.kind == rules.INFERRED or (
        rule.reason_code == "RUNTIME_TOO_OLD" and not support.runtime_documented)
    assert (verdict["confidence"] == "low") == inferred, verdict["confidence_reason"]


@pytest.mark.parametrize("code", ["DILATION_OLD_RUNTIME", "REDUCE_AXES_OLD_RUNTIME",
                                  "PAD_CHANNELS", "SQUEEZE_RELAYOUT"])
def test_the_runtime_that_lifted_the_old_tables_limits_is_inferred(code):
    """Coral's 2019 table documents these limits; no document says which runtime lifted them."""
    verdict = BOUNDARIES[code][1]()
    assert (verdict["confidence"], verdict["confidence_reason"]) == (
        "low", f"rule {code} is inferred, no compiler output shows it")
    assert "runtimes before 13" in next(r.text for r in OP_RULES if r.reason_code == code)


def test_compiler_16_maps_what_older_compilers_refused():
    """Run-time FC weights, 2-D FC output, a large N-D softmax: compiler 16 maps them
    (observed), 15 does not."""
    assert fully_connected(1, False)["status"] == MAPPED
    assert fully_connected(2)["status"] == MAPPED
    assert resize_nearest(3, "16.0")["status"] == MAPPED
    assert unary("SOFTMAX", (1, 4, 8400, 16))["status"] == MAPPED


def test_unknown_op_on_int32_side_output_is_not_a_dtype_problem():
    verdict = single(Op("TOPK_V2", ["x", "k"], ["v", "i"]),
                     [T("x", (1, 10)), T("k", (), "INT32", data=ints(3)), T("v", (1, 3)),
                      T("i", (1, 3), "INT32", scale=None)])
    assert verdict["status"] == NOT_SUPPORTED


# ---- evidence ------------------------------------------------------------------------------

def test_every_rule_has_evidence_with_citations():
    for r in rules.RULES:
        assert isinstance(r.evidence, rules.Evidence), r.name
        assert r.evidence.kind in set(EvidenceKind) and r.evidence.citations, r.name


def test_corpus_citations_name_registered_rules_and_join_their_evidence():
    by_name = {r.name: r for r in rules.RULES}
    assert set(SEEN_IN) <= set(by_name)  # a misspelt name would drop its evidence silently
    for name, items in SEEN_IN.items():
        assert by_name[name].evidence.citations[-len(items):] == items, name


def test_a_rule_without_evidence_cannot_be_registered():
    before = list(rules.registry.REGISTERED)
    with pytest.raises(ValueError, match="evidence"):
        rules.rule(Status.UNSPECIFIED, "NO_EVIDENCE", "fix",
                   rules.Evidence(EvidenceKind.INFERRED))(lambda ctx: None)
    with pytest.raises(ValueError, match="evidence"):
        rules.rule(Status.UNSPECIFIED, "NO_EVIDENCE", "fix", None)(lambda ctx: None)
    assert rules.registry.REGISTERED == before


def test_the_check_order_names_every_registered_check_once():
    """CHECK_ORDER alone says which check wins: a registered check missing from it would never
    run, one named twice would be checked twice."""
    registered = [r.check for r in rules.registry.REGISTERED if r.check is not None]
    assert len(set(registered)) == len(registered)
    assert sorted(c.__qualname__ for c in rules.CHECK_ORDER) == sorted(
        c.__qualname__ for c in registered)
    assert set(rules.CHECK_ORDER) == set(registered)
    for scope in (rules.Scope.OP, rules.Scope.MODEL, rules.Scope.ADVICE):
        in_scope = {r.check for r in rules.of_scope(scope)}
        assert [r.check for r in rules.of_scope(scope)] == [
            c for c in rules.CHECK_ORDER if c in in_scope], scope


def test_limits_are_formatted_into_the_text():
    assert "at most 16,000 elements" in next(
        r.text for r in rules.RULES if r.reason_code == "SOFTMAX_SIZE")
    for r in rules.RULES:
        assert "{" not in r.text and "{" not in r.fix, r.name
        if r.limit is not None:
            assert f"{r.limit.threshold:,}" in r.text, r.name


def test_numbers_in_rule_texts_come_from_the_constants():
    text = {r.reason_code: r.text for r in rules.RULES}
    assert "33x (1x1 -> 33x33)" in text["RESIZE_UPSCALE"]
    # Seen refused before compiler 16: edgetpu#206, edgetpu#396, tensorflow#42024
    assert "RESIZE_BILINEAR version 3+ (half_pixel_centers)" in text["OP_VERSION"]
    assert "FULLY_CONNECTED version 5+ (keep_num_dims)" in text["OP_VERSION"]
    for op, version in rules.tables.MAX_VERSION_BEFORE_16.items():
        assert f"{op} version {version + 1}+" in text["OP_VERSION"]
    for (major, minor), ops in rules.tables.UNPARSED_VERSIONS.items():
        seen = text["OP_VERSION_UNKNOWN"].split(f"compiler {major}.{minor} with ")[1]
        assert all(f"{op} {v}" in seen.split(";")[0] for op, v in ops.items())
    groups = text["RUNTIME_TOO_OLD"].split("(-m): ")[1].rstrip(".").split("; ")
    stated = {name: int(runtime) for group in groups
              for names, runtime in [group.split(" need runtime ")] for name in names.split(", ")}
    assert stated == {s.coral_name: s.min_runtime for s in rules.SUPPORTED_OPS.values()
                      if s.min_runtime > min(t.min_runtime for t in rules.SUPPORTED_OPS.values())}


def test_fixes_spell_the_flags_the_way_tpulens_does(capsys):
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    helptext = capsys.readouterr().out
    for r in rules.RULES:
        for flag in re.findall(r"--[a-z_-]+", r.fix + r.text):
            assert "_" not in flag and flag in helptext, (r.name, flag)


# ---- whole-model refusals ------------------------------------------------------------------

def float_model() -> bytes:
    return build([T("x", (1, 4), "FLOAT32", scale=None), T("y", (1, 4), "FLOAT32", scale=None)],
                 [Op("RELU", ["x"], ["y"])])


def test_float_model_is_rejected_whole_before_compiler_16():
    result = analyze(float_model(), "15.0")
    assert result["errors"] == ["Model not quantized (no 8-bit activation tensor)"]
    assert result["summary"]["verdict"] == "fails"
    assert result["ops"][0]["reason_code"] == "MODEL_NOT_QUANTIZED"


def test_compiler_16_accepts_a_float_model_and_leaves_it_on_the_cpu():
    result = analyze(float_model())
    assert result["errors"] == [] and result["summary"]["verdict"] == "none"
    assert result["ops"][0]["status"] == DTYPE


def test_a_model_without_operators_is_rejected():
    result = analyze(build([T("x", (1, 4))], []))
    assert result["errors"] == ["Model has no operators (no operators)"]


def test_shape_computed_at_run_time_is_rejected():
    data = build([T("x", (1, 4, 4, 2)), T("s", (4,), "INT32", scale=None), T("y", (1, 32))],
                 [Op("SHAPE", ["x"], ["s"]), Op("RESHAPE", ["x", "s"], ["y"])])
    errors = analyze(data)["errors"]
    assert len(errors) == 1 and errors[0].startswith("Attempting to use a delegate that only")
    constant = build([T("x", (1, 4, 4, 2)), T("s", (2,), "INT32", data=ints(1, 32)),
                      T("y", (1, 32))], [Op("RESHAPE", ["x", "s"], ["y"])])
    assert analyze(constant)["errors"] == []


def test_dynamic_batch_in_signature_alone_is_accepted():
    """Two corpus models with shape_signature -1 compiled fine: only run-time shapes fail."""
    data = build([T("x", (1, 4), shape_signature=(-1, 4)), T("y", (1, 4))],
                 [Op("RELU", ["x"], ["y"])])
    assert analyze(data)["errors"] == []


def test_a_cycle_is_reported_not_mapped():
    """Two ops that read each other's results can never run (a red-team input)."""
    data = build([T("x", (1, 4)), T("a", (1, 4)), T("b", (1, 4))],
                 [Op("ADD", ["x", "b"], ["a"], 1, "AddOptions", {}),
                  Op("RELU", ["a"], ["b"])], inputs=["x"], outputs=["b"])
    result = analyze(data)
    assert result["summary"]["verdict"] == "fails" and result["summary"]["ops_tpu"] == 0
    assert result["errors"][0].startswith("Op graph has a cycle (2 op(s) can never run: #0, #1")
    chain = build([T("x", (1, 4)), T("a", (1, 4)), T("b", (1, 4))],
                  [Op("RELU", ["x"], ["a"]), Op("RELU", ["a"], ["b"])])
    assert analyze(chain)["errors"] == []


# ---- fix advice by context -----------------------------------------------------------------

def int8_model_ending_in(op: Op, extra: list[T]) -> dict:
    ta, oa = conv("in", "c")
    return analyze(build([T("in", (1, 8, 8, 4)), *ta, *extra], [oa, op]))["ops"][1]


def test_ops_that_belong_on_the_cpu_at_the_end_say_nothing_needs_fixing():
    dequantize = int8_model_ending_in(Op("DEQUANTIZE", ["c"], ["f"]),
                                      [T("f", (1, 8, 8, 4), "FLOAT32", scale=None)])
    argmax = int8_model_ending_in(Op("ARG_MAX", ["c", "axis"], ["i"]),
                                  [T("axis", (), "INT32", data=ints(3)),
                                   T("i", (1, 8, 8), "INT64", scale=None)])
    for verdict in (dequantize, argmax):
        assert verdict["fix"].startswith("This op belongs on the CPU at the end of an 8-bit")
        assert "nothing needs fixing" in verdict["fix"]
        assert "Quantize the whole model" not in verdict["fix"]
    assert "inference_output_type" in dequantize["fix"]
    assert "ARG_MAX has no Edge TPU version" in argmax["fix"]


def test_the_same_op_in_the_middle_gets_the_rules_own_fix():
    ta, oa = conv("in", "c")
    tb, ob = conv("q", "d")
    result = analyze(build([T("in", (1, 8, 8, 4)), *ta, T("f", (1, 8, 8, 4), "FLOAT32",
                                                             scale=None), T("q", (1, 8, 8, 4)),
                            *tb],
                           [oa, Op("DEQUANTIZE", ["c"], ["f"]), Op("QUANTIZE", ["f"], ["q"]),
                            ob]))
    dequantize = result["ops"][1]
    assert dequantize["fix"] == next(r.fix for r in rules.RULES
                                     if r.reason_code == "UNSUPPORTED_DTYPE")


def test_an_unsupported_op_gets_the_substitutes_for_its_own_type():
    sin, leaky, unknown = (before_a_conv(op) for op in ("SIN", "LEAKY_RELU", "CUMSUM"))
    assert {v["reason_code"] for v in (sin, leaky, unknown)} == {"UNSUPPORTED_OP"}
    assert "constant" in sin["fix"] and "ReLU" not in sin["fix"]
    assert "TRANSPOSE" not in sin["fix"] and "TRANSPOSE" not in leaky["fix"]
    assert leaky["fix"].startswith("Use ReLU or ReLU6 instead")
    general = next(r for r in rules.RULES if r.reason_code == "UNSUPPORTED_OP")
    assert unknown["fix"] == general.fix and "LeakyReLU" not in general.fix
    for verdict in (sin, leaky):
        assert verdict["fix"].endswith("so only the tail runs on the CPU.")


def test_substitutes_name_only_ops_the_edge_tpu_cannot_run():
    assert not set(rules.SUBSTITUTES) & set(rules.SUPPORTED_OPS)


def test_the_data_type_is_checked_before_the_op_type():
    """An op the Edge TPU does not run is refused for its data type when it reads anything
    but 8-bit data or writes a result neither 8-bit nor int32 (a comparison's bool), and as
    not supported when it reads 8-bit data and writes int32 indices (the corpus's int8
    TOPK_V2)."""
    def compare(dtype: str) -> dict:
        return single(Op("LESS_EQUAL", ["x", "c"], ["y"]),
                      [T("x", (1, 4), dtype), T("c", (1, 4), dtype, data=bytes(4 * 4)),
                       T("y", (1, 4), "BOOL")])
    assert compare("INT8")["status"] == DTYPE
    assert compare("FLOAT32")["status"] == DTYPE
    for data in ("INT16", "INT8"):  # int32 indices read: refused for the data type
        gather = single(Op("GATHER", ["p", "i"], ["y"]),
                        [T("p", (10, 4), data), T("i", (3,), "INT32"), T("y", (3, 4), data)])
        assert gather["status"] == DTYPE, data
    topk = single(Op("TOPK_V2", ["x", "k"], ["v", "i"], 2),
                  [T("x", (1, 100), "INT8"), T("k", (), "INT32", data=ints(5)),
                   T("v", (1, 5), "INT8"), T("i", (1, 5), "INT32")])
    assert topk["status"] == NOT_SUPPORTED


def test_custom_ops_get_custom_op_advice():
    tail = int8_model_ending_in(Op("CUSTOM", ["c"], ["p"], custom_code="PosenetDecoderOp"),
                                [T("p", (1, 10), "FLOAT32", scale=None)])
    assert tail["fix"].startswith("PosenetDecoderOp is a custom op")
    assert "nothing needs fixing" in tail["fix"] and "LeakyReLU" not in tail["fix"]
    ta, oa = conv("in", "c")
    tb, ob = conv("p", "d")
    middle = analyze(build([T("in", (1, 8, 8, 4)), *ta, T("p", (1, 8, 8, 4)), *tb],
                           [oa, Op("CUSTOM", ["c"], ["p"], custom_code="MyOp"), ob]))["ops"][1]
    assert middle["fix"].startswith("MyOp is a custom op") and "Move it to the end" in middle[
        "fix"]


def test_a_dequantize_feeding_post_processing_is_not_told_to_drop_itself():
    ta, oa = conv("in", "c")
    result = analyze(build(
        [T("in", (1, 8, 8, 4)), *ta, T("f", (1, 8, 8, 4), "FLOAT32", scale=None),
         T("boxes", (1, 10, 4), "FLOAT32", scale=None)],
        [oa, Op("DEQUANTIZE", ["c"], ["f"]),
         Op("CUSTOM", ["f"], ["boxes"], custom_code="TFLite_Detection_PostProcess")]))
    dequantize = result["ops"][1]
    assert "nothing needs fixing" in dequantize["fix"]
    assert "inference_output_type" not in dequantize["fix"]


def test_an_op_version_the_compiler_cannot_parse_fails_the_whole_compile():
    def model(version: int) -> bytes:
        return build([T("x", (1, 4, 4, 3)), T("w", (3, 1, 1, 3), data=bytes(9)),
                      T("b", (3,), "INT32", data=ints(0, 0, 0)), T("y", (1, 4, 4, 3))],
                     [Op("CONV_2D", ["x", "w", "b"], ["y"], version, "Conv2DOptions",
                         {"StrideW": 1, "StrideH": 1})])
    failed = analyze(model(6))
    assert failed["errors"][0].startswith("Model could not be parsed (ERROR: Didn't find op "
                                          "for builtin opcode 'CONV_2D' version '6'")
    assert failed["ops"][0]["reason_code"] == "OP_VERSION_UNKNOWN"
    assert analyze(model(3))["errors"] == []
    assert analyze(model(5), "14.1")["errors"] and not analyze(model(4), "14.1")["errors"]


# Each rule that is not an op check, and the tests that show it on both sides of its boundary.
NON_OP_TESTS = {
    "EMPTY_MODEL": "test_a_model_without_operators_is_rejected",
    "MODEL_NOT_QUANTIZED": "test_compiler_16_accepts_a_float_model_and_leaves_it_on_the_cpu",
    "OP_VERSION_UNKNOWN": "test_an_op_version_the_compiler_cannot_parse_fails_the_whole_compile",
    "DYNAMIC_TENSORS": "test_shape_computed_at_run_time_is_rejected",
    "GRAPH_CYCLE": "test_a_cycle_is_reported_not_mapped",
    "AFTER_PARTITION": "test_enable_multiple_subgraphs_maps_every_partition",
    "INTERMEDIATE_TENSOR": "test_intermediate_tensors_end_the_tpu_subgraph",
    "DROPPED": "test_ops_whose_results_are_unused_are_dropped_not_mapped",
    "ADVICE_CUSTOM_OP": "test_custom_ops_get_custom_op_advice",
    "ADVICE_CPU_TAIL": "test_the_same_op_in_the_middle_gets_the_rules_own_fix",
}


def test_every_other_rule_has_its_tests():
    from pathlib import Path

    here = Path(__file__).parent
    source = "".join(p.read_text() for p in here.glob("test_analyzer_*.py"))
    assert set(NON_OP_TESTS) == {r.reason_code for r in rules.RULES
                                 if r.scope != rules.Scope.OP}
    for test in NON_OP_TESTS.values():
        assert f"def {test}(" in source, test


def test_runtime_names_and_compiler_16_checks_come_from_the_compiler_table():
    from tpulens.analyzer import reference
    from tpulens.analyzer.compilers import COMPILERS

    oldest = min(c.default_runtime for c in COMPILERS.values())
    assert reference.runtime_name(oldest) == "all runtimes"
    for support in rules.SUPPORTED_OPS.values():
        if support.min_runtime > oldest:
            assert reference.runtime_name(support.min_runtime) == (
                f"runtime {support.min_runtime}+")
    table = reference.markdown()
    assert "| `CONV_2D` | Conv2d | all runtimes |" in table
    assert "| `TRANSPOSE` | Transpose | runtime 14+ |" in table
    assert [c.version for c in COMPILERS.values() if rules.since_16(c)] == ["16.0"]


def test_compiler_2_0_checks_a_quantize_for_its_input_and_maps_an_8bit_one():
    """google-coral/edgetpu#13: compiler 2.0 (runtime 12) calls a float-input QUANTIZE
    "otherwise supported", so it knows the op; a requantizing one is mapped, not refused for
    its runtime."""
    def quantize(src: str, dst: str) -> dict:
        return single(Op("QUANTIZE", ["x"], ["y"]),
                      [T("x", (1, 8, 8, 4), src, scale=None if src == "FLOAT32" else 0.1),
                       T("y", (1, 8, 8, 4), dst)], compiler="2.0")
    assert quantize("UINT8", "INT8")["status"] == MAPPED
    assert quantize("FLOAT32", "INT8")["status"] == UNSPECIFIED


YOLOV10N = ("pairs/EdgeTPU-MOT@03eb91d/server_script/yolov10n_saved_model/"
            "yolov10n_full_integer_quant.tflite")


def test_check_order_on_a_detector_tail(corpus):
    """YOLOv10n's post-processing: the top-k of float scores and the gathers with int64
    indices are refused for their data type, the top-k of int8 scores (int32 indices out) as
    not supported, as the compiler's table for the model says."""
    ops = analyze((corpus / YOLOV10N).read_bytes())["ops"]
    assert (ops[451]["opcode"], ops[451]["status"]) == ("TOPK_V2", DTYPE)
    assert (ops[465]["opcode"], ops[465]["status"]) == ("TOPK_V2", NOT_SUPPORTED)
    assert {ops[i]["status"] for i in (463, 486, 487)} == {DTYPE}


def test_compiler_2_0_maps_the_requantizing_quantize_of_a_real_model(corpus):
    """LeNet with uint8 I/O: its input QUANTIZE (uint8 -> int8) maps with compiler 16, and
    with compiler 2.0 too (runtime 12)."""
    data = (corpus / "pairs/LeNet_TFLite@58c09cc/converted_model-int8_io.tflite").read_bytes()
    for compiler in ("2.0", "16.0"):
        quantize = [o for o in analyze(data, compiler)["ops"] if o["opcode"] == "QUANTIZE"]
        assert quantize and quantize[0]["status"] == MAPPED, compiler


def test_a_float_quantize_cut_off_by_the_partition_gets_the_partition_status(corpus):
    """The compiler calls a float-input QUANTIZE otherwise supported: at a model's input it
    is "unspecified limitation" (LeNet's first op), in YOLOv10n's float tail after CPU ops it
    is cut off like any supported op."""
    lenet = analyze((corpus / "pairs/LeNet_TFLite@58c09cc/converted_model-int8.tflite")
                    .read_bytes())["ops"][0]
    assert (lenet["opcode"], lenet["reason_code"]) == ("QUANTIZE", "FLOAT_INPUT_QUANTIZE")
    ops = analyze((corpus / YOLOV10N).read_bytes())["ops"]
    for i in (468, 491):
        assert (ops[i]["opcode"], ops[i]["status"]) == ("QUANTIZE", AFTER_PARTITION)
        assert ops[ops[i]["root_cause"]]["placement"] == "CPU"
