"""Folding op tables (report/op_groups.py): a float model's by op type and status, any other
model's long runs of alike ops such as the CPU tail after the partition cut; and reading the
analyzer's what-if outcomes (report/what_if.py)."""

from __future__ import annotations

import sample_results as sample

from tpulens.analyzer.analyze import analyze_file
from tpulens.report.diagnostics import op_table
from tpulens.report.load import normalize_analysis
from tpulens.report.op_groups import (
    MIN_RUN,
    fold_runs,
    group_ops,
    op_id,
    root_cause_counts,
    rows_repeat,
)
from tpulens.report.what_if import INT8_LABEL, int8_outcome, sentence, what_ifs

FLOAT_MODEL = "pairs/MyYolov5@0667147/yolov5n-fp16.tflite"
PARTIAL_MODEL = "pairs/edgetpu/deeplabv3_mnv2_pascal_quant.tflite"
LONG_TAIL_MODEL = (  # 19 ops on the Edge TPU, then 473 on the CPU
    "pairs/EdgeTPU-MOT@03eb91d/server_script/yolov10n_saved_model/"
    "yolov10n_full_integer_quant.tflite"
)


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


def test_a_model_with_an_edge_tpu_partition_keeps_execution_order(corpus):
    ops = normalize_analysis(analyze_file(corpus / PARTIAL_MODEL))["ops"]
    assert not rows_repeat(ops)
    assert not rows_repeat([])
    table = op_table("deeplab", ops, root_cause_counts(ops))
    assert table.row_ids == [op_id(op["subgraph"], op["index"]) for op in ops]


def shown_rows(table) -> int:
    """Rows a reader sees with every fold closed."""
    return sum(1 if fold.head else fold.size for fold in table.groups) or len(table.rows)


def test_a_long_cpu_tail_folds_into_runs_and_root_causes_keep_their_rows(corpus):
    ops = normalize_analysis(analyze_file(corpus / LONG_TAIL_MODEL))["ops"]
    causes = root_cause_counts(ops)
    assert 0 < sum(op["placement"] == "TPU" for op in ops) < len(ops) and not rows_repeat(ops)
    runs = fold_runs(ops, {key for key, n in causes.items() if n})
    assert [op for run in runs for op in run.ops] == ops  # execution order, nothing lost
    for run in runs:
        kinds = {(o["subgraph"], o["placement"], o["status"], o["root_cause"]) for o in run.ops}
        assert len(kinds) == 1
        if any(causes.get((op["subgraph"], op["index"])) for op in run.ops):
            assert run.count == 1  # a root cause is never folded away
    tail = max(runs, key=lambda run: run.count)
    assert tail.status == sample.AFTER and tail.count > 100 and tail.root_cause is not None
    assert tail.opcode.startswith("CONV_2D ×") and "other" in tail.opcode  # mixed types, counted

    table = op_table("yolov10n", ops, causes)
    assert table.row_ids == [op_id(op["subgraph"], op["index"]) for op in ops]
    assert not table.sortable and sum(fold.size for fold in table.groups) == len(ops)
    assert shown_rows(table) < len(ops) // 8  # 492 rows become about fifty
    start = 0
    for fold in table.groups:
        folded = table.row_ids[start : start + fold.size]
        start += fold.size
        if fold.head:
            assert fold.size >= MIN_RUN
            assert not any(causes.get((0, int(row.rsplit("-", 1)[1]))) for row in folded)


def test_low_confidence_verdicts_are_never_folded():
    ops = [sample.op(0, "CONV_2D", "TPU", sample.MAPPED)]
    ops += [sample.op(1, "CUSTOM", "CPU", sample.UNSUPPORTED, "UNSUPPORTED_OP")]
    ops += [sample.op(i, "ADD", "CPU", sample.AFTER, "AFTER_PARTITION", 1) for i in range(2, 9)]
    ops[5]["confidence"] = "low"
    ops = normalize_analysis(sample.analysis("low.tflite", ops))["ops"]
    runs = fold_runs(ops, {(0, 1)})
    assert [run.indexes for run in runs] == [[0], [1], [2, 3, 4], [5], [6, 7, 8]]
    table = op_table("low", ops, root_cause_counts(ops))
    assert [fold.size for fold in table.groups] == [1, 1, 3, 1, 3]
    assert [bool(fold.head) for fold in table.groups] == [False, False, True, False, True]
    assert table.groups[2].head[-1].href == "#op-0-1"  # the run's shared root cause


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
