"""parse-log as a user runs it: standard input, completeness, the pasted command, hints."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tpulens.analyzer import compiler_errors
from tpulens.analyzer.log_report import render_text
from tpulens.analyzer.logs import MAPPED, parse_log

# Compiler 16 stdout with -s, as printed: summary totals that prove the table complete.
STDOUT = f"""\
Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 412 ms.

Input model: m.tflite
Input size: 3.03KiB
Output model: m_edgetpu.tflite
Output size: 60.06KiB
Number of Edge TPU subgraphs: 1
Total number of operations: 4
Operation log: m_edgetpu.log

Model successfully compiled but not all operations are supported by the Edge TPU.
Number of operations that will run on Edge TPU: 3
Number of operations that will run on CPU: 1

Operator                       Count      Status

CONV_2D                        2          {MAPPED}
SOFTMAX                        1          {MAPPED}
ARG_MAX                        1          Operation not supported
"""
TABLE = f"""\
Operator                       Count      Status

CONV_2D                        2          {MAPPED}
ARG_MAX                        1          Operation not supported
"""


def tpulens(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "tpulens.cli", *args], capture_output=True,
                          text=True, input=stdin, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def test_standard_input_with_a_dash():
    code, out, err = tpulens("parse-log", "-", "--json", stdin=STDOUT)
    assert code == 0, err
    log = json.loads(out)
    assert log["models"][0]["complete"] is True and log["warnings"] == []
    code, _, err = tpulens("parse-log", "-", stdin="")
    assert code == 2 and err.strip() == "tpulens parse-log: error: standard input: empty, " \
                                        "nothing to parse"


def test_compare_reads_its_log_from_standard_input(corpus):
    padding = "pairs/EdgeTPU_Analysis/InOut/model_padding/model_padding_2x2x3"
    log = (corpus / f"{padding}_edgetpu.log").read_text()
    code, out, err = tpulens("compare", str(corpus / f"{padding}.tflite"), "--log", "-",
                             stdin=log)
    assert code == 0 and out.rstrip().endswith("AGREE"), out + err


def test_summary_totals_prove_the_table_complete():
    (model,) = parse_log(STDOUT).models
    assert model.complete is True and model.ops_in_table == 4


def test_a_table_without_summary_lines_cannot_be_verified():
    log = parse_log(TABLE)
    assert log.models[0].complete is None
    assert log.warnings == ["completeness cannot be verified: no summary lines (Total number "
                            "of operations …) to check the table against"]
    assert "table completeness not verified" in render_text(log)


def test_a_last_row_without_a_line_break_may_be_cut():
    log = parse_log(TABLE.rstrip("\n"))
    assert log.models[0].complete is None
    assert any("the last table row has no line break" in w for w in log.warnings)
    # With summary totals that add up, the same cut-off text is proven complete.
    assert parse_log(STDOUT.rstrip("\n")).models[0].complete is True


def test_summary_totals_that_do_not_add_up():
    text = STDOUT.replace("run on CPU: 1", "run on CPU: 2")
    log = parse_log(text)
    assert any("do not add up: 3 on the Edge TPU + 2 on the CPU is not 4" in w
               for w in log.warnings)
    assert log.models[0].complete is False  # the table disagrees with the CPU count


@pytest.mark.parametrize("line", [
    "user@host:~/models$ edgetpu_compiler -s -m 13 m.tflite",
    "(venv) PS C:\\models> edgetpu_compiler -s -m 13 m.tflite",
    "root@3f2a:/work# edgetpu_compiler -s -m 13 m.tflite",
    "!edgetpu_compiler -s -m 13 m.tflite",
    "$ sudo edgetpu_compiler -s -m 13 m.tflite",
])
def test_shell_prompts_are_stripped_from_the_command(line):
    command = parse_log(line + "\n" + STDOUT).command
    assert command["line"] == "edgetpu_compiler -s -m 13 m.tflite"
    assert command["flags"] == {"show_operations": True, "min_runtime_version": "13"}
    assert command["models"] == ["m.tflite"]


@pytest.mark.parametrize("known", [e for e in compiler_errors.KNOWN if e.hint],
                         ids=lambda e: e.code)
def test_every_known_failure_comes_with_a_hint(known):
    """Each failure line's own hint, in a log of compiler 15 whose ERROR line gives no reason
    of its own."""
    line = known.prefixes[0] + " (details)"
    log = parse_log("Edge TPU Compiler version 15.0.340273435\nERROR: Registration failed.\n"
                    + line + "\n")
    error = log.errors[-1]
    assert error["code"] == known.code and error["hint"] == known.hint
    assert f"error [{known.code}]: {line}\n  hint: {known.hint}" in render_text(log)


def test_corpus_failure_logs_carry_their_hints_and_exit_1(corpus):
    code, out, _ = tpulens("parse-log", str(corpus / "logs/issue-edgetpu-601-a.log"))
    assert code == 1 and "error [LARGE_ACTIVATIONS]" in out and "hint: A tensor inside" in out
    code, out, _ = tpulens("parse-log", str(corpus / "logs/issue-edgetpu-219.log"))
    assert code == 0 and "error [" not in out


def test_hints_fit_what_the_log_says(corpus):
    """"Invalid model" beside "Model not quantized" (no ERROR line): the reason is the other
    line, not ERROR lines. "Compilation failed" after a DYNAMIC_TENSORS error: the compiler did
    give a reason. "Compilation failed!" alone: it gave none."""
    code, out, _ = tpulens("parse-log", str(corpus / "logs/issue-edgetpu-168.log"))
    assert code == 1 and "ERROR lines" not in out
    assert "the reason on the NOT_QUANTIZED line" in out
    code, out, _ = tpulens("parse-log", str(corpus / "logs/issue-edgetpu-829.log"))
    assert code == 1 and "gave no reason" not in out
    assert "the reason on the DYNAMIC_TENSORS line" in out
    code, out, _ = tpulens("parse-log", str(corpus / "logs/issue-edgetpu-714.log"))
    assert code == 1 and "The compiler gave no reason" in out
    alone = parse_log("Edge TPU Compiler version 2.0.267685300\nInvalid model: m.tflite\n")
    assert "printed no reason" in alone.errors[0]["hint"]


@pytest.mark.parametrize("version", ["16.0.384591198", "15.0.340273435"])
def test_an_unknown_op_version_hint_suggests_compiler_16_only_to_older_compilers(version):
    """google-coral/edgetpu#879: compiler 16 cannot parse QUANTIZE version 3; telling its user
    to use compiler 16 would not fit."""
    log = parse_log(f"Edge TPU Compiler version {version}\nERROR: Didn't find op for builtin "
                    "opcode 'QUANTIZE' version '3'\n\nERROR: Registration failed.\n\n"
                    "Invalid model: q.tflite\nModel could not be parsed\n")
    hints = [e.get("hint") or "" for e in log.errors]
    unknown = next(e for e in log.errors if e["code"] == "UNKNOWN_OP_VERSION")
    if version.startswith("16"):
        assert not any("use compiler 16.0" in h for h in hints)
        assert "even compiler 16.0, the newest" in unknown["hint"]
    else:
        assert "use compiler 16.0" in unknown["hint"]
    assert log.compiled is False
