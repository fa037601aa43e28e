"""Pasted, cut, mixed and junk text: the log parser reads what it can and says what is wrong."""


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tpulens.analyzer.ground_truth import CORPUS
from tpulens.analyzer.logs import MAPPED, STATUSES, canonical_status, parse_log, parse_log_file
from tpulens.errors import InputError

LOGS = sorted((CORPUS / "logs").glob("*.log")) if (CORPUS / "logs").is_dir() else []
needs_corpus = pytest.mark.skipif(not LOGS, reason=f"ground-truth corpus not found at {CORPUS}")

# Co-compilation stdout as posted in google-coral/edgetpu#458 (compiler 16.0, two models).
COCOMPILED = """\
Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Models compiled successfully in 524 ms.

Input model: temp_models/1.tflite
Input size: 1.91MiB
Output model: temp_models/co-compiled/2/1_edgetpu.tflite
Output size: 2.52MiB
On-chip memory used for caching model parameters: 2.27MiB
On-chip memory remaining for caching model parameters: 1.07MiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: 57
Operation log: temp_models/co-compiled/2/1_edgetpu.log
See the operation log file for individual operation details.

Input model: temp_models/2.tflite
Input size: 1.87MiB
Output model: temp_models/co-compiled/2/2_edgetpu.tflite
Output size: 2.06MiB
On-chip memory used for caching model parameters: 2.00MiB
On-chip memory remaining for caching model parameters: 1.07MiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: 6
Operation log: temp_models/co-compiled/2/2_edgetpu.log
See the operation log file for individual operation details.
Compilation child process completed within timeout period.
Compilation succeeded!
"""

OLD_TFLITE = """\
Edge TPU Compiler version 2.1.302470888
ERROR: Didn't find op for builtin opcode 'RESIZE_BILINEAR' version '3'
ERROR: Registration failed.

Invalid model: model.tflite
Model could not be parsed
"""

INTERNAL = """\
Edge TPU Compiler version 2.1.302470888
ERROR: :160 NumOutputs(node) != 4 (1 != 4)
ERROR: Node number 121 (TFLite_Detection_PostProcess) failed to prepare.

Internal compiler error. Aborting!
"""


def _corpus_text(name: str) -> str:
    return (CORPUS / "logs" / name).read_text()


def test_co_compiled_stdout_gives_one_model_each():
    log = parse_log(COCOMPILED)
    assert log.kind == "stdout" and log.compiled is True and log.compile_time_ms == 524
    assert [m.input_model for m in log.models] == ["temp_models/1.tflite",
                                                   "temp_models/2.tflite"]
    assert [m.summary["ops_total"] for m in log.models] == [57, 6]
    assert log.models[1].summary["on_chip_used_bytes"] == round(2.0 * 2**20)
    assert log.model_for("/elsewhere/2.tflite") is log.models[1]
    assert log.warnings == []


def test_unknown_op_version_is_an_error_with_operator_and_version():
    log = parse_log(OLD_TFLITE)
    codes = [e["code"] for e in log.errors]
    assert codes == ["UNKNOWN_OP_VERSION", "COMPILER_ERROR", "INVALID_MODEL", "INVALID_MODEL"]
    assert (log.errors[0]["operator"], log.errors[0]["version"]) == ("RESIZE_BILINEAR", 3)
    assert log.errors[2]["model"] == "model.tflite"
    assert log.compiled is False


def test_internal_compiler_error():
    log = parse_log(INTERNAL)
    assert log.errors[-1]["code"] == "INTERNAL_ERROR" and log.compiled is False
    assert log.compiler_release == "2.1"


@pytest.mark.parametrize("text", ["", "   \n\n", "\r\n"])
def test_empty_text_is_a_warning(text):
    log = parse_log(text)
    assert log.kind == "empty" and log.models == [] and log.warnings


def test_empty_and_binary_files_give_clear_errors(tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.log"
    junk.write_bytes(bytes(range(256)) * 8)
    model = tmp_path / "m.log"
    model.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64)
    assert parse_log_file(empty).kind == "empty"
    with pytest.raises(InputError, match="binary data"):
        parse_log_file(junk)
    with pytest.raises(InputError, match="TFLite model"):
        parse_log_file(model)
    with pytest.raises(InputError, match="no such file"):
        parse_log_file(tmp_path / "missing.log")


def test_text_without_compiler_output_warns():
    log = parse_log("hello\nthis is not a log\n")
    assert log.kind == "unknown" and log.models == []
    assert any("no compiler output" in w for w in log.warnings)


@needs_corpus
def test_table_cut_in_half_mid_word_keeps_the_status_as_read():
    text = _corpus_text("road-signs-recognition-model__yolov5s-int8_edgetpu.log")
    cut = text[: text.index("More than one subgraph is not supported") + 20]
    log = parse_log(cut)
    (model,) = log.models
    assert model.rows[-1].status == "More than one subgra"
    assert model.complete is False
    assert any("cut short" in w and "More than one subgraph is not supported" in w
               for w in log.warnings)
    assert all(r.status in STATUSES for r in model.rows[:-1])


@needs_corpus
def test_two_logs_pasted_together_give_two_models():
    first = _corpus_text("Franco__model_edgetpu.log")
    second = _corpus_text("edgetpu-tcn__quantized_model_edgetpu.log")
    log = parse_log(first + "\n" + second)
    assert [m.ops_in_table for m in log.models] == [3, 6]
    assert log.compiler_version == "15.0.340273435"
    assert any("two compiler versions" in w for w in log.warnings)


@needs_corpus
def test_issue_paste_with_odd_spacing_quotes_and_fences():
    text = _corpus_text("Franco__model_edgetpu.log")
    pasted = "Here is my log:\n```\n" + "\n".join(
        "> " + line.replace("  ", "\t", 3) + "   " for line in text.splitlines()) + "\n```\n"
    log = parse_log(pasted)
    assert log.models[0].rows == parse_log(text).models[0].rows
    assert log.compiler_version == "15.0.340273435"
    assert any("not recognised" in w for w in log.warnings)


def test_markdown_table_rows_are_read():
    text = ("| Operator | Count | Status |\n|---|---|---|\n"
            "| CONV_2D | 3 | Mapped to Edge TPU |\n| ARG_MAX | 1 | Operation not  supported |\n")
    rows = parse_log(text).models[0].rows
    assert [(r.operator, r.count, r.status) for r in rows] == [
        ("CONV_2D", 3, MAPPED), ("ARG_MAX", 1, "Operation not supported")]


def test_canonical_status():
    assert canonical_status("Mapped  to Edge\tTPU") == (MAPPED, None)
    status, problem = canonical_status("Tensor has unsupported rank (up to 3 innermost dimensio...")
    assert status.endswith("dimensio...") and "cut short" in problem
    assert "unknown status" in canonical_status("Something new")[1]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_give_a_result_or_input_error(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("junk") / "x.log"
    path.write_bytes(blob)
    try:
        parse_log_file(path)
    except InputError as err:
        assert str(path) in str(err)


# Compiler 2.0 stdout as pasted in a blog post that lost its line breaks.
GLUED = """\
Edge TPU Compiler version 2.0.267685300Model compiled successfully in 231 ms.Input model: m.tflite
Input size: 3.03KiB
Output model: m_edgetpu.tflite
On-chip memory available for caching model parameters: 1.73MiB
On-chip memory used for caching model parameters: 10.00KiB
Number of Edge TPU subgraphs: 1
Total number of operations: 3
Operation log: m_edgetpu.logModel successfully compiled but not all operations are supported.
"""


def test_glued_lines_are_split_and_old_memory_line_is_read():
    log = parse_log(GLUED)
    assert (log.compiler_version, log.compile_time_ms) == ("2.0.267685300", 231)
    (model,) = log.models
    assert model.input_model == "m.tflite" and model.summary["operation_log"] == "m_edgetpu.log"
    assert model.summary["on_chip_available_bytes"] == round(1.73 * 2**20)
    assert model.not_all_mapped
    assert any("glued" in w for w in log.warnings)
