"""Folding a float model's op table (report/op_groups.py) and reading the analyzer's what-if
outcomes (report/what_if.py)."""

from __future__ import annotations

import sample_results as sample

from tpulens.analyzer.analyze import analyze_file
from tpulens.report.load import normalize_analysis
from tpulens.report.op_groups import group_ops, rows_repeat
from tpulens.report.what_if import INT8_LABEL, int8_outcome, sentence, what_ifs

FLOAT_MODEL = "pairs/MyYolov5@0667147/yolov5n-fp16.tflite"
PARTIAL_MODEL = "pairs/edgetpu/deeplabv3_mnv2_pascal_quant.tflite"


def test_a_float_model_folds_into_one_row_per_op_type_and_status(corpus):
    ops = normalize_analysis(analyze_file(corpus / FLOAT_MODEL))["ops"]
    assert rows_repeat(ops)
    groups = group_ops(ops)
    kinds = list(dict.fromkeys((op["opcode"], op["status"]) for op in ops))
    assert [(g.opcode, g.status) for g in groups] == kinds  # order of first appearance
    assert len(groups) <= 15 < len(ops) // 20  # 386 rows become a screenful
    assert sum(g.count for g in groups) == len(ops)
    for group in groups:
        assert all((op["opcode"], op["status"]) == (group.opcode, group.status) for op in group.ops)
        assert group.indexes == sorted(group.indexes)  # expandable rows in execution order
        assert group.placement == "CPU" and group.fixes  # the fix is said once per group


def test_a_model_with_an_edge_tpu_partition_keeps_its_per_op_rows(corpus):
    ops = normalize_analysis(analyze_file(corpus / PARTIAL_MODEL))["ops"]
    assert not rows_repeat(ops)
    assert not rows_repeat([])


def test_custom_ops_group_by_custom_code_and_fixes_are_listed_once_each():
    ops = [
        sample.op(0, "CUSTOM", "CPU", sample.UNSUPPORTED, "UNSUPPORTED_OP"),
        sample.op(1, "CUSTOM", "CPU", sample.UNSUPPORTED, "UNSUPPORTED_OP"),
        sample.op(2, "CUSTOM", "CPU", sample.UNSUPPORTED, "UNSUPPORTED_OP"),
    ]
    ops[0]["custom_code"], ops[1]["custom_code"] = "NMS", "NMS"
    ops[1]["fix"] = "another fix"
    nms, plain = group_ops(normalize_analysis(sample.analysis("c.tflite", ops))["ops"])
    assert (nms.opcode, nms.count, nms.fixes) == ("NMS", 2, ("replace CUSTOM", "another fix"))
    assert (plain.opcode, plain.count, plain.reason_codes) == ("CUSTOM", 1, ("UNSUPPORTED_OP",))


SUMMARY = {
    "ops_tpu": 0,
    "what_if": [
        {"label": "with compiler 16.0", "flags": ["--compiler-version", "16.0"], "ops_tpu": 0,
         "ops_cpu": 386, "ops_low_confidence": 0},
        {"label": INT8_LABEL, "flags": [], "ops_tpu": 250, "ops_cpu": 5,
         "ops_low_confidence": 12, "blocking": ["TRANSPOSE", "RESHAPE"]},
        {"label": "broken", "ops_tpu": "many", "ops_cpu": 1},
        "not an outcome",
        {"label": "with -a", "flags": "-a", "ops_tpu": -3, "ops_cpu": 2},
    ],
}


def test_what_if_outcomes_are_read_as_written_and_malformed_ones_skipped():
    outcomes = what_ifs(SUMMARY)
    assert [w.label for w in outcomes] == ["with compiler 16.0", INT8_LABEL]
    int8 = int8_outcome(SUMMARY)
    assert (int8.ops_tpu, int8.ops, int8.blocking) == (250, 255, ("TRANSPOSE", "RESHAPE"))
    assert sentence(int8, SUMMARY["ops_tpu"]) == (
        "If fully int8-quantized: 250 of 255 ops on the Edge TPU (250 more than now), "
        "predicted, 12 verdicts with low confidence; still on the CPU: TRANSPOSE, RESHAPE."
    )
    assert sentence(outcomes[0], 0) == (
        "With compiler 16.0: 0 of 386 ops on the Edge TPU (as many as now), predicted."
    )


def test_the_int8_outcome_of_a_real_float_model(corpus):
    summary = analyze_file(corpus / FLOAT_MODEL)["summary"]
    outcome = int8_outcome(summary)
    if "what_if" not in summary:  # an analyzer from before what-ifs: no outcome, no error
        assert outcome is None
    else:
        assert 0 < outcome.ops_tpu and outcome.ops <= summary["ops_total"]
    assert what_ifs({}) == [] and what_ifs({"what_if": {"label": INT8_LABEL}}) == []
