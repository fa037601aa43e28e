"""The analyze and rules commands as a user sees them."""

import json

from tpulens.analyzer import corpus_evidence, reference, rules
from tpulens.analyzer.vocabulary import Status
from tpulens.cli import main

DEEPLAB = "pairs/edgetpu/deeplabv3_mnv2_pascal_quant.tflite"


def test_text_report_reads_like_the_compiler_then_explains(corpus, capsys):
    assert main(["analyze", str(corpus / DEEPLAB), "--compiler-version", "2.1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PREDICTION for ")
    assert "Number of operations that will run on Edge TPU: 64" in out
    assert "Number of operations that will run on CPU: 7" in out
    assert f"{'RESIZE_BILINEAR':<31}{2:<11}{Status.UNSPECIFIED}" in out
    assert "#65 CONCATENATION -> concat" in out and "root cause: op #63" in out


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
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for row in reference.supported_ops():
        assert f"| `{row['opcode']}` |" in out
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
    main(["rules"])
    assert doc.read_text() == capsys.readouterr().out, "regenerate: tpulens rules > " + str(doc)


def test_ops_unsure_for_one_reason_share_one_note(corpus, capsys):
    """DeepLab's 64 unsure verdicts have one reason: said once, with the ops it covers."""
    assert main(["analyze", str(corpus / DEEPLAB)]) == 0
    out = capsys.readouterr().out
    assert "Verdicts with low confidence (marked ?): 64" in out
    assert out.count("low confidence: the Edge TPU part holds a tensor of 6,340,704") == 1
    assert "  ? 64 ops (CONV_2D x36, DEPTHWISE_CONV_2D x17, ADD x10, AVERAGE_POOL_2D x1): " \
        "#0-#62, #64\n" in out
    assert len(out.splitlines()) < 120
    assert main(["analyze", str(corpus / DEEPLAB), "--json"]) == 0  # the JSON keeps every op
    ops = json.loads(capsys.readouterr().out)["ops"]
    assert sum(o["confidence"] == "low" for o in ops) == 64
