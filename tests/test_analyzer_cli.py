"""The analyze and rules commands as a user sees them."""

import json

from tpulens.analyzer import corpus_evidence, reference, rules
from tpulens.analyzer.vocabulary import Status
from tpulens.cli import main

DEEPLAB = "pairs/edgetpu/deeplabv3_mnv2_pascal_quant.tflite"
YOLOV10N = ("pairs/EdgeTPU-MOT@03eb91d/server_script/yolov10n_saved_model/"
            "yolov10n_full_integer_quant.tflite")


def test_text_report_reads_like_the_compiler_then_explains(corpus, capsys):
    assert main(["analyze", str(corpus / DEEPLAB), "--compiler-version", "2.1",
                 "--details"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PREDICTION for ")
    assert "Number of operations that will run on Edge TPU: 64" in out
    assert "Number of operations that will run on CPU: 7" in out
    assert f"{'RESIZE_BILINEAR':<31}{2:<11}{Status.UNSPECIFIED}" in out
    assert "#65 CONCATENATION -> concat" in out and "root cause: op #63" in out


def test_brief_text_gives_each_root_cause_once_and_details_keep_every_op(corpus, capsys):
    """YOLOv10n: 473 ops on the CPU, nearly all behind twelve ADDs refused for a version that an
    INT64 ADD raised. The brief report fits a screen and names that cause, its culprits and its
    fix once; --details keeps every op."""
    assert main(["analyze", str(corpus / YOLOV10N)]) == 0
    brief = capsys.readouterr().out
    assert len(brief.splitlines()) <= 60
    assert "  ADD x12 (#18, #39, #46, #67 …), 414 later op(s) follow them: " \
        f"{Status.UNSUPPORTED_VERSION}" in brief
    assert "raised by the INT64 ADD #455, #458, #474" in brief
    assert brief.count("fix: Keep every op of this type 8-bit") == 1
    assert "then: BATCH_MATMUL x2" in brief
    assert "More than one subgraph is not supported" in brief  # the compiler's table stays
    assert main(["analyze", str(corpus / YOLOV10N), "--details"]) == 0
    details = capsys.readouterr().out
    assert "Ops off the Edge TPU (473), in execution order:" in details
    assert details.count("    status: ") == 473
    assert "    made by: INT64 'model_89/tf.cast/Cast' from CAST #452\n" in details


def test_a_version_refusal_names_the_ops_and_tensors_that_raise_the_version(corpus, capsys):
    """YOLOv10n's int8 ADDs are version 4 because three INT64 ADDs need it: the JSON names
    those ADDs, their INT64 tensors and the ops that write them."""
    assert main(["analyze", str(corpus / YOLOV10N), "--json"]) == 0
    ops = json.loads(capsys.readouterr().out)["ops"]
    culprits = ops[18]["culprits"]
    assert sorted({c["op"] for c in culprits}) == [455, 458, 474]
    assert {c["dtype"] for c in culprits} == {"INT64"}
    inputs = [c for c in culprits if c["role"] == "input"]
    assert inputs and all(ops[c["producer"]]["opcode"] == c["producer_opcode"] == "TILE"
                          for c in inputs)
    assert ops[455]["reason_code"] == "UNSUPPORTED_DTYPE"
    assert {c["tensor"] for c in ops[455]["culprits"]} <= {
        t["name"] for t in ops[455]["input_tensors"] + ops[455]["output_tensors"]}


def test_json_follows_the_contract(corpus, capsys):
    main(["analyze", str(corpus / DEEPLAB), "--json", "-a"])
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"summary", "ops", "table", "errors", "options"}
    op = result["ops"][65]
    assert {k: op[k] for k in ("subgraph", "index", "opcode", "placement")} == {
        "subgraph": 0, "index": 65, "opcode": "CONCATENATION", "placement": "TPU"}
    assert result["summary"]["tpu_subgraphs"] == 2 and result["options"][
        "enable_multiple_subgraphs"] is True


def test_compiled_model_is_described(corpus, capsys):
    compiled = corpus / DEEPLAB.replace(".tflite", "_edgetpu.tflite")
    assert main(["analyze", str(compiled)]) == 0
    assert "1 Edge TPU subgraph" in capsys.readouterr().out


def test_rules_reference_lists_every_supported_op(capsys):
    assert main(["rules", "--markdown"]) == 0
    out = capsys.readouterr().out
    for row in reference.supported_ops():
        assert f"| `{row['opcode']}` |" in out
    assert main(["rules"]) == 0
    text = capsys.readouterr().out
    assert all(f"\n{row['opcode']} (" in text for row in reference.supported_ops()
               if row["section"] == "op")
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "pairs/" not in text and " 0 agree" not in text


def test_rules_for_some_ops_only(capsys):
    """`tpulens rules OP...` takes TFLite or Coral names in any case; a rule no corpus op
    shows says so; an op the Edge TPU does not run gets its status and substitute."""
    assert main(["rules", "resizebilinear", "LEAKY_RELU"]) == 0
    text = capsys.readouterr().out
    assert "\nRESIZE_BILINEAR (ResizeBilinear; all runtimes)\n" in text
    assert "\nCONV_2D (" not in text
    version = text[text.index("  NON_8BIT_KERNEL_VERSION"):text.index("  RESIZE_UPSCALE")]
    assert version.rstrip().endswith("no corpus op seen")
    assert "8 of 8 corpus ops agree" in text
    assert f"LEAKY_RELU: not an Edge TPU operation ({Status.UNSUPPORTED_OP})" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert main(["rules", "ResizeBilinear", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["opcode"] for r in data["ops"]] == ["RESIZE_BILINEAR"]
    assert data["unsupported"] == []
    assert main(["rules", "--compiler-version", "14.1", "--json"]) == 0
    ops = {r["opcode"]: r for r in json.loads(capsys.readouterr().out)["ops"]}
    assert ops["TRANSPOSE"]["available"] is False and ops["CONV_2D"]["available"] is True


def test_corpus_counts_on_an_op_row_are_those_of_its_op_type():
    """A rule's count on an op's row counts only corpus ops of that type."""
    rows = {row["opcode"]: row for row in reference.supported_ops() if row["section"] == "op"}
    for opcode, row in rows.items():
        for c in row["constraints"]:
            expected = sum(a for (code, op), (a, _) in corpus_evidence.CONFIRMED.items()
                           if code == c["reason_code"] and op == opcode)
            assert c["corpus_ops"]["agree"] == expected, (opcode, c["reason_code"])
    version = {c["reason_code"]: c["corpus_ops"]["agree"] for c in rows["ADD"]["constraints"]}
    assert version["NON_8BIT_KERNEL_VERSION"] > 0
    assert all(c["corpus_ops"]["agree"] == 0 for c in rows["TRANSPOSE"]["constraints"]
               if c["reason_code"] == "NON_8BIT_KERNEL_VERSION")


def test_the_op_table_shows_each_constraints_citations():
    row = next(line for line in reference.markdown().splitlines()
               if line.startswith("| `TRANSPOSE` |"))
    size = next(r for r in rules.RULES if r.reason_code == "TRANSPOSE_SIZE")
    assert all(citation in row for citation in size.evidence.citations)


def test_supported_ops_doc_is_generated_from_the_table(capsys):
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "SUPPORTED_OPS.md"
    main(["rules", "--markdown"])
    assert doc.read_text() == capsys.readouterr().out, (
        f"regenerate: tpulens rules --markdown > {doc}")


def test_a_compile_larger_than_any_seen_is_one_note_not_a_mark_on_every_op(corpus, capsys):
    """DeepLab at compiler 16 holds a tensor larger than any seen in a successful compile with
    16: a doubt about the whole compile, said once, naming no corpus file; its verdicts keep
    the confidence of the rules that decided them."""
    assert main(["analyze", str(corpus / DEEPLAB)]) == 0
    out = capsys.readouterr().out
    assert "Verdicts with low confidence" not in out  # shown only when there are some
    assert out.count("holds a tensor of 6,340,704 elements") == 1
    assert "pairs/" not in out.split("\n", 1)[1] and ".tflite#" not in out
    assert len(out.splitlines()) <= 60
    assert main(["analyze", str(corpus / DEEPLAB), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["ops_low_confidence"] == 0
    assert [n for n in summary["notes"] if "6,340,704" in n]


def test_every_corpus_models_brief_report_fits_a_screen(corpus):
    """The brief report of every CPU model of the corpus, at the default compiler."""
    from tpulens.analyzer.analysis_report import BRIEF_LINES, render_text
    from tpulens.analyzer.analyze import analyze_model, make_options, to_json
    from tpulens.analyzer.model import read_model

    paths = [p for p in sorted(corpus.rglob("*.tflite")) if not p.name.endswith("_edgetpu.tflite")]
    assert len(paths) > 50
    lengths = {p.name: len(render_text(to_json(analyze_model(read_model(p), make_options())))
                           .splitlines()) for p in paths}
    assert max(lengths.values()) <= BRIEF_LINES, max(lengths.items(), key=lambda kv: kv[1])
