"""How sure each verdict is, what other compiler options would change, and how the text output
shows both."""

from __future__ import annotations

import pytest
from test_analyzer_partition import chain_with_cpu_op_in_middle
from test_analyzer_rules import analyze, conv, resize, transpose
from tflite_builder import Op, T, build, ints

from tpulens.analyzer.analysis_report import render_text
from tpulens.analyzer.analyze import analyze_model, make_options, to_json
from tpulens.analyzer.model import parse_model, read_model
from tpulens.analyzer.rules import ConfidenceReason

LENET_FLOAT = "pairs/LeNet_TFLite@58c09cc/converted_model.tflite"
YOLO_FP16 = "pairs/MyYolov5@0667147/yolov5n-fp16.tflite"
SSD_WITH_LOG = ("cpu_with_log/EdgeTPU_Analysis/Ops/model_mobilenet/"
                "coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite")
POSENET = "pairs/edgetpu/posenet/posenet_mobilenet_v1_075_353_481_quant_decoder.tflite"


def test_a_verdict_far_from_every_limit_is_sure():
    verdict = transpose((1, 100, 100, 1), (0, 3, 1, 2))
    assert (verdict["status"], verdict["confidence"], verdict["confidence_reason"]) == (
        "Mapped to Edge TPU", "high", "")


def test_a_verdict_between_the_largest_mapped_and_smallest_refused_is_unsure():
    mapped = transpose((1, 290, 290, 1), (0, 3, 1, 2))  # 84,100 elements
    refused = transpose((1, 300, 350, 1), (0, 3, 1, 2))  # 105,000 elements
    assert (mapped["placement"], refused["placement"]) == ("TPU", "CPU")
    for verdict in (mapped, refused):
        assert verdict["confidence"] == "low"
        assert verdict["confidence_reason"].startswith("near an empirical size limit: input "
                                                       "elements")
    sure = transpose((1, 30, 30, 144), (0, 3, 1, 2))  # 129,600 elements
    assert (sure["placement"], sure["confidence"]) == ("CPU", "high")


def test_inferred_rules_are_unsure_and_op_types_never_seen_compiled_are_one_note():
    """An inferred rule makes its verdict unsure; an op type no compile has shown mapped is a
    doubt about the evidence's coverage, said once for the model, not a mark on the op."""
    second = analyze(build(
        [T("x", (1, 4)), T("y", (1, 4))], [Op("RELU", ["x"], ["y"])],
        extra_subgraphs=[([T("p", (1, 4)), T("q", (1, 4))], [Op("RELU", ["p"], ["q"])])],
    ))["ops"][1]
    assert second["confidence"] == "low"
    model = build([T("x", (1, 4, 4, 3)), T("y", (1, 2, 2, 12)), T("z", (1, 2, 2, 12))],
                  [Op("SPACE_TO_DEPTH", ["x"], ["y"], 1, "SpaceToDepthOptions", {"BlockSize": 2}),
                   Op("SPACE_TO_DEPTH", ["x"], ["z"], 1, "SpaceToDepthOptions", {"BlockSize": 2})],
                  outputs=["y", "z"])
    analysis = analyze(model)
    assert [(o["placement"], o["confidence"]) for o in analysis["ops"]] == [("TPU", "high")] * 2
    notes = analysis["summary"]["notes"]
    assert len(notes) == 1 and notes[0].startswith("SPACE_TO_DEPTH is predicted mapped from "
                                                   "Coral's supported-operations table")
    assert "pairs/" not in notes[0]


def test_an_op_type_never_seen_mapped_is_not_called_near_a_size_limit():
    """A 2x ResizeBilinear (an ordinary upsample): no corpus op of its type mapped, so there is
    no boundary it could be near; the refusals the corpus shows stay sure."""
    upsample = resize(2)
    assert (upsample["placement"], upsample["confidence"]) == ("TPU", "low")
    assert upsample["confidence_reason"].startswith("this op type was never seen mapped at any "
                                                    "size: RESIZE_BILINEAR with upscale factor 2")
    assert "near an empirical size limit" not in upsample["confidence_reason"]
    seen_refused = resize(33)  # deeplabv3_mnv2_pascal_quant.tflite#63: 1x1 -> 33x33, refused
    assert (seen_refused["placement"], seen_refused["confidence"]) == ("CPU", "high")


def test_what_if_never_cuts_before_an_op_type_never_seen_mapped():
    ta, oa = conv("x", "a")
    tb, ob = conv("l", "b")
    result = analyze(build(
        [T("x", (1, 8, 8, 4)), *ta, T("size", (2,), "INT32", data=ints(16, 16)),
         T("up", (1, 16, 16, 4)), T("in", (1, 8, 8, 4)), T("l", (1, 8, 8, 4)), *tb],
        [oa, Op("RESIZE_BILINEAR", ["a", "size"], ["up"], 1, "ResizeBilinearOptions", {}),
         Op("LEAKY_RELU", ["in"], ["l"], 2), ob]))
    assert result["ops"][1]["placement"] == "TPU"
    assert not any(case["flags"][:1] == ["-i"] for case in result["summary"]["what_if"])


def test_what_depends_on_an_unsure_op_is_unsure():
    ta, oa = conv("t", "c", shape=(1, 1, 290, 290))
    result = analyze(build(
        [T("x", (1, 290, 290, 1)), T("perm", (4,), "INT32", data=ints(0, 3, 1, 2)),
         T("t", (1, 1, 290, 290)), *ta],
        [Op("TRANSPOSE", ["x", "perm"], ["t"]), oa]))
    after = result["ops"][1]
    assert after["placement"] == "TPU" and after["confidence"] == "low"
    assert after["confidence_reason"].startswith("depends on op #0")
    assert result["summary"]["ops_low_confidence"] == 2


def test_each_doubt_carries_the_code_the_what_if_acts_on():
    """The -i cut is chosen by the doubt's code, not its wording: the near-limit transpose is
    NEAR_LIMIT, the convolution it feeds DEPENDS_ON_UNSURE, sure ops have none."""
    ta, oa = conv("x", "a", shape=(1, 290, 290, 1))
    tc, oc = conv("t", "c", shape=(1, 1, 290, 290))
    model = parse_model(build(
        [T("x", (1, 290, 290, 1)), *ta, T("perm", (4,), "INT32", data=ints(0, 3, 1, 2)),
         T("t", (1, 1, 290, 290)), *tc, T("y", (1, 1, 290, 290))],
        [oa, Op("TRANSPOSE", ["a", "perm"], ["t"]), oc, Op("LEAKY_RELU", ["c"], ["y"], 2)]))
    analysis = analyze_model(model, make_options("16.0"))
    assert [v.confidence_code for v in analysis.verdicts] == [
        None, ConfidenceReason.NEAR_LIMIT, ConfidenceReason.DEPENDS_ON_UNSURE, None]
    cut = next(w for w in to_json(analysis)["summary"]["what_if"] if w["flags"][:1] == ["-i"])
    assert cut["flags"] == ["-i", "a"]


def test_a_surely_refused_op_before_an_unsure_one_keeps_it_sure():
    """Ops cut off anyway by a sure refusal stay on the CPU whatever the unsure limit says."""
    ta, oa = conv("x", "a", shape=(1, 290, 290, 1))
    result = analyze(build(
        [T("x", (1, 290, 290, 1)), *ta, T("l", (1, 290, 290, 1)),
         T("perm", (4,), "INT32", data=ints(0, 3, 1, 2)), T("t", (1, 1, 290, 290))],
        [oa, Op("LEAKY_RELU", ["a"], ["l"], 2), Op("TRANSPOSE", ["l", "perm"], ["t"])]))
    assert [(o["placement"], o["confidence"]) for o in result["ops"][1:]] == [
        ("CPU", "high"), ("CPU", "high")]


# ---- what-if -------------------------------------------------------------------------------

def what_if(result: dict) -> dict:
    return {case["label"]: case for case in result["summary"]["what_if"]}


def test_what_if_with_a_and_a_newer_compiler():
    result = analyze(chain_with_cpu_op_in_middle(), "15.0")
    cases = what_if(result)
    assert cases["with -a"]["flags"] == ["-a"]
    assert (cases["with -a"]["ops_tpu"], cases["with -a"]["ops_cpu"]) == (3, 1)
    assert cases["with compiler 16.0"]["flags"] == ["--compiler-version", "16.0"]
    assert "with -a" in render_text(result)
    assert "  with -a: 2 more ops on the Edge TPU (3 of 4)" in render_text(result)


def test_no_what_if_for_a_fully_mapped_model():
    ta, oa = conv("in", "a")
    assert analyze(build([T("in", (1, 8, 8, 4)), *ta], [oa]))["summary"]["what_if"] == []


@pytest.mark.parametrize("compiler", ["15.0", "16.0"])
def test_what_if_fully_int8_names_the_ops_that_still_block(compiler):
    """Before compiler 16 the float model is refused whole; once int8 it is not."""
    data = build([T("x", (1, 8, 8, 4), "FLOAT32", scale=None),
                  T("y", (1, 8, 8, 4), "FLOAT32", scale=None),
                  T("z", (1, 8, 8, 4), "FLOAT32", scale=None)],
                 [Op("RELU", ["x"], ["y"]), Op("LEAKY_RELU", ["y"], ["z"], 2)])
    result = analyze(data, compiler)
    assert result["summary"]["ops_tpu"] == 0
    case = what_if(result)["if fully int8-quantized"]
    assert (case["ops_tpu"], case["ops_cpu"], case["blocking"]) == (1, 1, ["LEAKY_RELU"])
    assert "still blocking: LEAKY_RELU" in render_text(result)


def test_what_if_int8_folds_float16_weights():
    """A float16 model's DEQUANTIZE ops vanish when int8: the convolution then maps."""
    data = build([T("x", (1, 8, 8, 4), "FLOAT32", scale=None),
                  T("w16", (4, 1, 1, 4), "FLOAT16", data=bytes(32), scale=None),
                  T("w", (4, 1, 1, 4), "FLOAT32", scale=None),
                  T("b", (4,), "FLOAT32", data=bytes(16), scale=None),
                  T("y", (1, 8, 8, 4), "FLOAT32", scale=None)],
                 [Op("DEQUANTIZE", ["w16"], ["w"]),
                  Op("CONV_2D", ["x", "w", "b"], ["y"], 1, "Conv2DOptions",
                     {"StrideW": 1, "StrideH": 1})])
    case = what_if(analyze(data))["if fully int8-quantized"]
    assert (case["ops_tpu"], case["ops_cpu"], case["blocking"]) == (1, 0, [])
    assert case["ops_low_confidence"] == 0  # the vanished DEQUANTIZE leaves no doubt behind


def test_what_if_int8_of_a_float16_model_is_not_doubted_for_its_dequantize_ops(corpus):
    result = to_json(analyze_model(read_model(corpus / YOLO_FP16), make_options("16.0")))
    case = what_if(result)["if fully int8-quantized"]
    assert case["ops_tpu"] > 200 and case["ops_low_confidence"] == 0


def test_what_if_int8_of_a_float_model_refused_by_an_older_compiler(corpus):
    """LeNet in float32: compiler 15 says "Model not quantized"; the int8 what-if must not."""
    result = to_json(analyze_model(read_model(corpus / LENET_FLOAT), make_options("15.0")))
    assert result["errors"] == ["Model not quantized (no 8-bit activation tensor)"]
    case = what_if(result)["if fully int8-quantized"]
    assert (case["ops_tpu"], case["ops_cpu"], case["blocking"]) == (9, 0, [])


@pytest.mark.parametrize("path", [SSD_WITH_LOG, POSENET])
def test_no_int8_what_if_for_an_int8_model_whose_floats_come_from_its_cpu_tail(corpus, path):
    """Detection / pose post-processing writes float outputs at the end of an int8 model:
    quantizing would change nothing, so no int8 what-if is offered."""
    result = to_json(analyze_model(read_model(corpus / path), make_options("16.0")))
    assert result["summary"]["ops_cpu"] == 1
    assert "if fully int8-quantized" not in what_if(result)


def test_int8_what_if_when_a_float_tensor_precedes_the_tail_even_without_new_ops_mapped():
    """A float input to an unsupported op: quantizing is needed (though not enough), so the
    what-if is offered and names the op that still blocks."""
    result = analyze(build([T("x", (1, 8), "FLOAT32", scale=None),
                            T("y", (1, 8), "FLOAT32", scale=None)], [Op("SIN", ["x"], ["y"])]))
    case = what_if(result)["if fully int8-quantized"]
    assert (case["ops_tpu"], case["ops_cpu"], case["blocking"]) == (0, 1, ["SIN"])


def test_what_if_cuts_before_an_op_near_a_size_limit():
    ta, oa = conv("x", "a", shape=(1, 290, 290, 1))
    tb, ob = conv("l", "b", shape=(1, 8, 8, 4))
    result = analyze(build(
        [T("x", (1, 290, 290, 1)), *ta, T("perm", (4,), "INT32", data=ints(0, 3, 1, 2)),
         T("t", (1, 1, 290, 290)), T("in", (1, 8, 8, 4)), T("l", (1, 8, 8, 4)), *tb],
        [oa, Op("TRANSPOSE", ["a", "perm"], ["t"]), Op("LEAKY_RELU", ["in"], ["l"], 2), ob]))
    case = what_if(result)["with -i a"]
    assert case["flags"] == ["-i", "a"] and case["ops_tpu"] == 1


# ---- text output ---------------------------------------------------------------------------

def test_text_marks_unsure_verdicts_and_counts_them():
    analysis = analyze(build(
        [T("x", (1, 290, 290, 1)), T("perm", (4,), "INT32", data=ints(0, 3, 1, 2)),
         T("t", (1, 1, 290, 290))], [Op("TRANSPOSE", ["x", "perm"], ["t"])]))
    text = render_text(analysis, details=True)
    assert "Verdicts with low confidence (marked ?): 1" in text
    assert "  ? #0 TRANSPOSE -> t" in text
    assert "low confidence: near an empirical size limit" in text
    brief = render_text(analysis)
    assert "Verdicts with low confidence (marked ?): 1" in brief
    assert "  ? 1 op(s) (TRANSPOSE x1), e.g. #0: near an empirical size limit" in brief


def test_text_never_cuts_a_name():
    long_names = [f"model/block_{i}/" + "very_long_tensor_name_" * 3 + str(i) for i in range(4)]
    tensors = [T("x", (1, 4))] + [T(n, (1, 4)) for n in long_names]
    op = Op("UNPACK", ["x"], long_names, 1)
    text = render_text(analyze(build(tensors, [op])), details=True)
    heading = next(line for line in text.splitlines() if line.startswith("  #0 UNPACK"))
    assert heading.endswith(f"-> {long_names[0]} (+3 more)")
    fix_lines = [line for line in text.splitlines() if line.startswith("    ")]
    assert all(not line.endswith("-") for line in fix_lines)


def test_limits_and_flags_appear_as_tpulens_spells_them():
    text = render_text(analyze(chain_with_cpu_op_in_middle()), details=True)
    assert "-a/--enable-multiple-subgraphs" in text


def test_the_int8_what_if_keeps_a_quantize_of_an_int16():
    """Counting floats as int8 takes away the conversions from float (a DEQUANTIZE, a QUANTIZE
    of a float), not a QUANTIZE of an int16: that one stays, refused as in the model."""
    model = parse_model(build(
        [T("x", (1, 4), "FLOAT32"), T("q", (1, 4), "INT16"), T("a", (1, 4), "INT8"),
         T("b", (1, 4), "INT8"), T("c", (1, 4), "INT8"), T("y", (1, 4), "FLOAT32")],
        [Op("QUANTIZE", ["x"], ["q"]), Op("QUANTIZE", ["q"], ["a"]), Op("RELU", ["a"], ["b"]),
         Op("RELU", ["b"], ["c"]), Op("DEQUANTIZE", ["c"], ["y"])]))
    result = to_json(analyze_model(model, make_options()))
    assert result["ops"][1]["reason_code"] == "FLOAT_INPUT_QUANTIZE"  # int16 in: refused
    (case,) = result["summary"]["what_if"]
    assert case["label"] == "if fully int8-quantized"
    assert case["ops_tpu"] + case["ops_cpu"] == 3  # the two RELUs and the int16 QUANTIZE
    assert case["blocking"] == ["QUANTIZE"]


def test_what_ifs_reuse_the_base_checks(corpus, monkeypatch):
    """YOLOv10n's what-ifs (-a, full int8) check again only the ops that touch a float tensor
    and stay in an int8 model (not its DEQUANTIZEs nor its QUANTIZEs from float): every other
    op's verdict under them is the base analysis's."""
    from tpulens.analyzer import analyze as analyze_module

    model = read_model(corpus / "pairs/EdgeTPU-MOT@03eb91d/server_script/yolov10n_saved_model/"
                       "yolov10n_full_integer_quant.tflite")
    checked = []
    real = analyze_module.first_failure
    monkeypatch.setattr(analyze_module, "first_failure",
                        lambda ctx: checked.append(ctx.op.index) or real(ctx))
    result = analyze_model(model, make_options())
    assert {case["label"] for case in to_json(result)["summary"]["what_if"]} == {
        "with -a", "if fully int8-quantized"}
    sg = model.subgraphs[0]
    def float_ones(ids):
        return [i for i in ids if i >= 0 and sg.tensors[i].dtype.startswith("FLOAT")]

    conversions = [op.index for op in sg.operators if op.opcode == "DEQUANTIZE" or (
        op.opcode == "QUANTIZE" and float_ones(op.inputs[:1]))]
    floats = [op.index for op in sg.operators if op.index not in conversions
              and float_ones((*op.inputs, *op.outputs))]
    assert len(conversions) == 6  # 4 DEQUANTIZE, 2 QUANTIZE from float
    assert 0 < len(floats) < len(sg.operators) // 10
    assert sorted(checked) == sorted(list(range(len(sg.operators))) + floats)
