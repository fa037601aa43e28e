"""The hostile inputs of ../shared/redteam (its README has each one's story): one line and exit
2, or a correct result, in time and memory that grow with the input and no faster."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from tpulens.analyzer.logs import parse_log

REDTEAM = Path(__file__).resolve().parents[2] / "shared" / "redteam"
needs_redteam = pytest.mark.skipif(not REDTEAM.is_dir(), reason=f"no red-team inputs at {REDTEAM}")


def tpulens(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "tpulens.cli", *args], capture_output=True,
                          input=stdin, timeout=60, cwd=REDTEAM if REDTEAM.is_dir() else None)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


@needs_redteam
@pytest.mark.parametrize("name, warning", [
    ("log_row_4301_digits.log", "unreadable count"),
    ("log_summary_4301_digits.log", "unreadable number"),
    ("log_summary_superscript.log", "unreadable number in 'Total number of operations: ²'"),
    ("log_size_overflow.log", "unreadable size"),
    ("log_compile_time_digits.log", "unreadable number in 'Model compiled successfully"),
    ("log_delegate_step_digits.log", "unreadable number in 'Searching for valid delegate"),
])
def test_numbers_that_are_not_numbers_are_warnings_not_tracebacks(name, warning):
    code, out, err = tpulens("parse-log", name)
    assert "Traceback" not in err and code == 0, err
    assert f"warning: {warning}" in out


@needs_redteam
@pytest.mark.parametrize("name", ["log_misleading_reject.log", "log_unreadable_numbers_1MB.log"])
def test_a_log_with_nothing_readable_is_refused(name):
    """Unreadable summary lines alone are no compiler output: refused, whatever else is cut."""
    code, out, err = tpulens("parse-log", name)
    assert code == 2 and not out and err.count("\n") == 1
    assert f"{name}: no compiler output recognised" in err and "glued" not in err


@needs_redteam
def test_an_unreadable_size_is_null_and_reads_unknown():
    code, out, _ = tpulens("parse-log", "log_size_overflow.log")
    assert code == 0 and "  input_size: unknown\n" in out and "99999" not in out.split("warn")[0]
    code, out, _ = tpulens("parse-log", "log_size_overflow.log", "--json")
    summary = json.loads(out)["models"][0]["summary"]
    assert code == 0 and summary == {"input_size": None}


@needs_redteam
def test_the_table_header_is_not_squeezed_by_short_operator_names():
    code, out, _ = tpulens("parse-log", "log_abridged_reject.log")
    assert code == 0 and "Operator  Count  Status" in out and "OperatorCount" not in out


@needs_redteam
@pytest.mark.parametrize("name", ["log_unique_status_rows_1MB.log",
                                  "log_unreadable_numbers_1MB.log"])
def test_floods_of_one_warning_are_counted_not_listed(name):
    log = parse_log((REDTEAM / name).read_text())
    assert len(log.warnings) <= 8
    assert any("more warning(s) of this kind" in w for w in log.warnings)


def _cpu_seconds(text: str) -> float:
    start = time.process_time()
    parse_log(text)
    return time.process_time() - start


@pytest.mark.parametrize("line", [
    "CONV_2D                        1          Weird status {i}\n",
    "Total number of operations: x{i}\n",
    "Input model: m{i}.tflite\n",
    "Total number of operations: {i}\n",
    "ERROR: thing {i}\n",
])
def test_parse_time_grows_linearly(line):
    """Four times the text costs about four times the time (quadratic work would cost 16)."""
    small = "".join(line.format(i=i) for i in range(5_000))
    large = "".join(line.format(i=i) for i in range(20_000))
    ratio = min(_cpu_seconds(large) for _ in range(2)) / min(
        _cpu_seconds(small) for _ in range(2))
    assert ratio < 8, ratio


def test_input_model_lines_do_not_pile_up_in_memory():
    """10 MB of "Input model:" lines took 1 GB: each line became a model."""
    text = "".join(f"Input model: m{i}.tflite\n" for i in range(20_000))
    tracemalloc.start()
    log = parse_log(text)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(log.models) == 1 and log.models[0].input_model == "m19999.tflite"
    assert any("19999 'Input model:' line(s) with nothing after them" in w for w in log.warnings)
    assert peak < 8 * len(text), peak  # each line as a model took 50 times the text


def test_model_blocks_past_the_cap_are_counted():
    text = "".join(f"Total number of operations: {i}\n" for i in range(10_050))
    log = parse_log(text)
    assert len(log.models) == 10_000
    assert any("50 model block(s) past the first 10000" in w for w in log.warnings)


@needs_redteam
@pytest.mark.parametrize("name", ["shared_ops_100000.tflite", "shared_ops_1000000.tflite",
                                  "compiled_shared_2000.tflite", "compiled_shared_20000.tflite"])
def test_one_table_for_many_ops_is_refused_at_once(name):
    start = time.monotonic()
    code, _, err = tpulens("analyze", name, "--json")
    assert code == 2 and "share one table" in err and len(err.strip().splitlines()) == 1
    assert time.monotonic() - start < 20
