"""Parse what `edgetpu_compiler` prints: `X_edgetpu.log` files, stdout (with or without `-s`),
co-compilation of several models, `-d` delegate-search lines, and failures.

Users paste these from terminals and issue threads, so the text may have extra lines, lose its
head or tail, or be abridged with "...". The parser reads every line it recognises, never raises
on text, and says in `warnings` what looked cut, abridged or unknown. Its work and memory grow
with the text, never faster: hostile text (numbers of thousands of digits, floods of one line)
gives warnings, not tracebacks. Rendering lives in log_report.py.
"""

from __future__ import annotations

import math
import re
import shlex
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tpulens.analyzer import compiler_errors
from tpulens.analyzer.compilers import DEFAULT_COMPILER
from tpulens.analyzer.vocabulary import Status
from tpulens.errors import InputError, existing_file

SCHEMA_VERSION = 1
MAPPED = Status.MAPPED
STATUSES = tuple(Status)
_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
_ROW = re.compile(r"([A-Z][A-Z0-9_]*)\s+([0-9]+)(?:\s+(\S.*))?")
_HEADER = re.compile(r"Operator\s+Count\s+Status\b")
_VERSION = re.compile(r"Edge ?TPU Compiler version\s+([0-9]{1,12}(?:\.[0-9]{1,12}){1,3})\b",
                      re.I)
_MAX_DIGITS = 15  # counts, sizes and times beyond this are not compiler output
_MAX_MODELS = 10_000  # co-compilation writes a few; more is a flood, not compiler output
_MAX_ERRORS = 100
_WARNINGS_PER_KIND = 5
# Pastes that lost their line breaks glue lines together ("…231 ms.Input model: a.tflite").
_GLUED = re.compile(r"(?<=\S)(?=Edge TPU Compiler version|Models? compiled successfully|"
                    r"Input model:|Output model:|Model successfully compiled|"
                    r"Number of operations that will run|See the operation log|"
                    r"On-chip memory|Off-chip memory|Number of Edge TPU subgraphs|"
                    r"Total number of operations|Operation log:)")
_GLUE_HINT = re.compile("Edge TPU|successfully|model:|Number of|See the|-chip memory|"
                        "Operation log:")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_FLAG_NAMES = {
    "-s": "show_operations", "-a": "enable_multiple_subgraphs", "-d": "search_delegate",
    "-k": "delegate_search_step", "-m": "min_runtime_version", "-i": "intermediate_tensors",
    "-n": "num_segments", "-o": "out_dir", "-t": "timeout_sec",
}
_FLAGS_WITH_VALUE = {"delegate_search_step", "min_runtime_version", "intermediate_tensors",
                     "num_segments", "out_dir", "timeout_sec"}
# Summary lines: prefix → (summary key, value kind).
_SUMMARY = (
    ("Input size:", "input_size", "size"),
    ("Output size:", "output_size", "size"),
    ("On-chip memory used for caching model parameters:", "on_chip_used", "size"),
    ("On-chip memory remaining for caching model parameters:", "on_chip_remaining", "size"),
    ("On-chip memory available for caching model parameters:", "on_chip_available", "size"),
    ("Off-chip memory used for streaming uncached model parameters:", "off_chip_used", "size"),
    ("Number of Edge TPU subgraphs:", "tpu_subgraphs", "int"),
    ("Total number of operations:", "ops_total", "int"),
    ("Number of operations that will run on Edge TPU:", "ops_tpu", "int"),
    ("Number of operations that will run on CPU:", "ops_cpu", "int"),
    ("Operation log:", "operation_log", "text"),
)
_SUMMARY_BY_PREFIX = {prefix: (key, kind) for prefix, key, kind in _SUMMARY}
_COMPILED_IN = re.compile(r"Models? compiled successfully in ([0-9]+) ms")
_DELEGATE_STEP = re.compile(r"Searching for valid delegate with step ([0-9]+)")
_SEGMENT_TRIED = re.compile(r"Try to compile segment with ([0-9]+) ops")
# Lines that carry no data but are expected in compiler output.
_NOISE = (
    "Started a compilation timeout timer", "Compilation child process completed",
    "See the operation log file", "INFO: ", "Model successfully compiled but not all",
    "Compilation succeeded", "```",
)
_OPCODE_VERSION = re.compile(r"opcode '([^']+)' version '([0-9]{1,9})'")


@dataclass(slots=True)
class LogRow:
    operator: str
    count: int
    status: str

    def to_json(self) -> dict:
        return {"operator": self.operator, "count": self.count, "status": self.status}


@dataclass
class ModelLog:
    """One compiled model: its operator table and summary lines."""

    input_model: str | None = None
    output_model: str | None = None
    rows: list[LogRow] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    complete: bool | None = None  # True: table present and nothing suggests a cut
    has_header: bool = False
    abridged: bool = False
    not_all_mapped: bool = False  # the "Model successfully compiled but not all…" line

    def has_content(self) -> bool:
        return bool(self.input_model or self.rows or self.summary or self.has_header)

    @property
    def name(self) -> str:
        return self.input_model or self.output_model or "(unnamed model)"

    def histogram(self) -> dict[tuple[str, str], int]:
        """(operator, status) → count; repeated rows are added up."""
        counts: dict[tuple[str, str], int] = {}
        for row in self.rows:
            key = (row.operator, row.status)
            counts[key] = counts.get(key, 0) + row.count
        return counts

    @property
    def ops_in_table(self) -> int:
        return sum(r.count for r in self.rows)

    @property
    def mapped_in_table(self) -> int:
        return sum(r.count for r in self.rows if r.status == MAPPED)

    def to_json(self) -> dict:
        return {"input_model": self.input_model, "output_model": self.output_model,
                "rows": [r.to_json() for r in self.rows], "summary": dict(self.summary),
                "ops_in_table": self.ops_in_table, "mapped_in_table": self.mapped_in_table,
                "complete": self.complete, "abridged": self.abridged}


@dataclass
class ParsedLog:
    """Everything read from one compiler output; see `to_json()` for the shape."""

    kind: str = "unknown"  # edgetpu.log | stdout | table | empty | unknown
    compiler_version: str | None = None
    command: dict | None = None  # {"line", "flags", "models"} from a pasted prompt line
    compiled: bool | None = None  # True: "compiled successfully"; False: a failure line
    compile_time_ms: int | None = None
    delegate_search: dict | None = None  # {"step": K, "segments_tried": [N, …]}
    models: list[ModelLog] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # {"code", "message", …}
    warnings: list[str] = field(default_factory=list)
    lines_total: int = 0
    lines_unrecognised: int = 0

    @property
    def compiler_release(self) -> str | None:
        """'16.0.384591198' → '16.0', the key the analyzer's versioned rules use."""
        return release_of(self.compiler_version)

    @property
    def recognised(self) -> bool:
        """Whether any compiler output was read: a model, an error, a version or a delegate
        search (unreadable lines alone are not)."""
        return bool(self.models or self.errors or self.compiler_version or self.delegate_search)

    def model_for(self, input_name: str) -> ModelLog | None:
        """The model whose Input line names this file (by base name), if any."""
        wanted = Path(input_name).name
        for m in self.models:
            if m.input_model and Path(m.input_model).name == wanted:
                return m
        return None

    def to_json(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION, "kind": self.kind,
            "compiler_version": self.compiler_version,
            "compiler_release": self.compiler_release, "command": self.command,
            "compiled": self.compiled, "compile_time_ms": self.compile_time_ms,
            "delegate_search": self.delegate_search,
            "models": [m.to_json() for m in self.models],
            "errors": list(self.errors), "warnings": list(self.warnings),
            "lines_total": self.lines_total, "lines_unrecognised": self.lines_unrecognised,
        }


def release_of(version: str | None) -> str | None:
    if not version:
        return None
    match = re.match(r"([0-9]+)\.([0-9]+)", version)
    return f"{match[1]}.{match[2]}" if match else None


def _number(text: str) -> int | None:
    """An ASCII whole number of at most 15 digits, else None ('²' and 4,000 digits are not)."""
    return int(text) if re.fullmatch(f"[0-9]{{1,{_MAX_DIGITS}}}", text) else None


def parse_size(text: str) -> int | None:
    """'21.75KiB' → 22272 bytes; None when the text is not a size."""
    match = re.fullmatch(r"([0-9]{1,15}(?:\.[0-9]{0,15})?)\s*(B|KiB|MiB|GiB)", text.strip())
    if not match:
        return None
    size = float(match[1]) * _UNITS[match[2]]
    return round(size) if math.isfinite(size) else None


def canonical_status(text: str) -> tuple[str, str | None]:
    """(status, problem): the compiler's exact string when recognisable, else the text as read.

    Odd spacing is repaired; a status cut short (or ending in '...') is kept as read and the
    problem names what it probably was.
    """
    status = " ".join(text.split())
    if status in STATUSES:
        return status, None
    stem = status.rstrip(".…").rstrip()
    candidates = [s for s in STATUSES if stem and s.startswith(stem)]
    if candidates:
        return status, f"status cut short: {status!r} (probably {candidates[0]!r})"
    return status, f"unknown status: {status!r}"


def _clean(line: str) -> str:
    line = _ANSI.sub("", line).replace("\t", "  ").strip()
    while line.startswith(">"):
        line = line[1:].strip()
    if line.startswith("|") and line.count("|") >= 3:  # a markdown table row
        line = "  ".join(cell.strip() for cell in line.strip("|").split("|"))
    return line


def _command(line: str) -> dict:
    """The edgetpu_compiler command of a pasted terminal line, without the shell prompt."""
    at = line.index("edgetpu_compiler")
    at = max(line.rfind(mark, 0, at) for mark in " $>#!") + 1
    line = line[at:].strip()
    tail = line.split("edgetpu_compiler", 1)[1]
    try:
        words = shlex.split(tail)
    except ValueError:
        words = tail.split()
    flags: dict = {}
    models = []
    i = 0
    while i < len(words):
        word = words[i]
        name, _, value = word.partition("=")
        key = _FLAG_NAMES.get(name) or (name[2:] if name.startswith("--") else None)
        if key is None:
            models.append(word)
        elif key in _FLAGS_WITH_VALUE and not value and i + 1 < len(words):
            i += 1
            flags[key] = words[i]
        else:
            flags[key] = value or True
        i += 1
    return {"line": line, "flags": flags, "models": models}


class _Warnings:
    """Warnings in order, each once; past a few of one kind they are only counted, so a
    flood of odd lines costs linear time and a few lines of output."""

    def __init__(self) -> None:
        self.shown: dict[str, None] = {}
        self.per_kind: Counter = Counter()
        self.more: Counter = Counter()

    def add(self, message: str, kind: str | None = None) -> None:
        if message in self.shown:
            return
        kind = kind or message
        if self.per_kind[kind] >= _WARNINGS_PER_KIND:
            self.more[kind] += 1
            return
        self.per_kind[kind] += 1
        self.shown[message] = None

    def lines(self) -> list[str]:
        return list(self.shown) + [f"{n} more warning(s) of this kind: {kind}"
                                   for kind, n in self.more.items()]


class _Parser:
    def __init__(self) -> None:
        self.log = ParsedLog()
        self.model = ModelLog()
        self.warnings = _Warnings()
        self.saw_log_header = False  # "Input:" lines exist only in X_edgetpu.log files
        self.saw_stdout = False
        self.unknown: list[str] = []
        self.skipped_inputs = 0  # "Input model:" lines with nothing after them
        self.skipped_models = 0  # model blocks past _MAX_MODELS
        self.skipped_errors = 0
        self.last_row_of: ModelLog | None = None  # the model whose row was the last line

    def new_model(self) -> None:
        if self.model.has_content():
            if len(self.log.models) < _MAX_MODELS:
                self.log.models.append(self.model)
            else:
                self.skipped_models += 1
        self.model = ModelLog()

    def warn(self, message: str, kind: str | None = None) -> None:
        self.warnings.add(message, kind)

    def line(self, raw: str) -> None:
        line = _clean(raw)
        if not line:
            return
        self.last_row_of = None
        if self._row(line) or self._summary(line) or self._structure(line):
            return
        if self._error(line) or line.startswith(_NOISE):
            self.saw_stdout = True
            return
        self.log.lines_unrecognised += 1
        if len(self.unknown) < 3:
            self.unknown.append(line[:80])

    def _row(self, line: str) -> bool:
        match = _ROW.fullmatch(line)
        if not match:
            return False
        count = _number(match[2])
        if count is None:
            self.warn(f"unreadable count in {line[:80]!r}", "unreadable count")
            self.model.complete = False
            return True
        if match[3] is None:
            self.warn(f"row cut before its status: {line!r}", "row cut before its status")
            self.model.complete = False
        status, problem = canonical_status(match[3] or "")
        if problem and match[3] is not None:
            self.warn(problem, problem.split(":", 1)[0])
            self.model.complete = False
        self.model.rows.append(LogRow(match[1], count, status))
        self.last_row_of = self.model
        return True

    def _summary(self, line: str) -> bool:
        head, colon, value = line.partition(":")
        key, kind = _SUMMARY_BY_PREFIX.get(head + colon, (None, None))
        if key is None:
            return False
        value = value.strip()
        if key in self.model.summary and key not in ("ops_tpu", "ops_cpu"):
            self.new_model()  # a second model's block without its Input line
        self.saw_stdout = True
        if kind == "int":
            number = self._read_number(value, line)
            if number is not None:
                self.model.summary[key] = number
        elif kind == "size":
            size = parse_size(value)
            if size is None:  # null: the figure was given but cannot be read
                self.model.summary[key] = None
                self.warn(f"unreadable size in {line[:80]!r}", "unreadable size")
            else:
                self.model.summary[key] = value[:80]
                self.model.summary[key + "_bytes"] = size
        else:
            self.model.summary[key] = value
        return True

    def _read_number(self, text: str, line: str) -> int | None:
        number = _number(text)
        if number is None:
            self.warn(f"unreadable number in {line[:80]!r}", "unreadable number")
        return number

    def _input(self, name: str) -> None:
        """A new model block; one whose Input line is all it has is dropped, not kept."""
        if self.model.input_model and not (self.model.output_model or self.model.rows or
                                           self.model.summary or self.model.has_header):
            self.skipped_inputs += 1
            self.model = ModelLog()
        else:
            self.new_model()
        self.model.input_model = name

    def _structure(self, line: str) -> bool:
        log = self.log
        if match := _VERSION.match(line):
            if self.model.has_content():
                self.new_model()
            if log.compiler_version and log.compiler_version != match[1]:
                self.warn(f"two compiler versions in one text: {log.compiler_version} and "
                          f"{match[1]}", "two compiler versions")
            log.compiler_version = log.compiler_version or match[1]
            return True
        if _HEADER.match(line):
            if self.model.rows:
                self.warn("a second operator table without an Input line: read as another "
                          "model")
                self.new_model()
            self.model.has_header = True
            return True
        for prefix, is_log_file in (("Input model:", False), ("Input:", True)):
            if line.startswith(prefix):
                self._input(line[len(prefix):].strip())
                self.saw_log_header |= is_log_file
                self.saw_stdout |= not is_log_file
                return True
        for prefix in ("Output model:", "Output:"):
            if line.startswith(prefix):
                self.model.output_model = line[len(prefix):].strip()
                return True
        if match := _COMPILED_IN.match(line):
            log.compiled = True
            log.compile_time_ms = self._read_number(match[1], line)
            self.saw_stdout = True
            return True
        if line.startswith("Model successfully compiled but not all"):
            self.model.not_all_mapped = True
            self.saw_stdout = True
            return True
        if match := _DELEGATE_STEP.match(line):
            log.delegate_search = {"step": self._read_number(match[1], line),
                                   "segments_tried": []}
            return True
        if match := _SEGMENT_TRIED.match(line):
            log.delegate_search = log.delegate_search or {"step": None, "segments_tried": []}
            tried = log.delegate_search["segments_tried"]
            if len(tried) < _MAX_ERRORS:
                tried.append(self._read_number(match[1], line))
            return True
        if line in ("...", "…", "[...]", "(...)"):
            self.model.abridged = True
            self.model.complete = False
            self.warn("the text is abridged ('...'): the table lists only some operators")
            return True
        if "edgetpu_compiler" in line and not line.startswith(("ERROR", "Edge")):
            log.command = _command(line)
            return True
        return False

    def _error(self, line: str) -> bool:
        known = compiler_errors.classify(line)
        if known is None:
            return False
        if known.code == "COMPILATION_FAILED" and line.rstrip("! ") == "Compilation failed" \
                and self.log.errors:
            self.log.compiled = False  # the closing line after the real reason
            return True
        if known.code != "COMPILER_ERROR" or "failed" in line.lower():
            self.log.compiled = False
        if len(self.log.errors) >= _MAX_ERRORS:
            self.skipped_errors += 1
            return True
        error = {"code": known.code, "message": line[:1000]}
        if known.hint:
            error["hint"] = known.hint
        if match := _OPCODE_VERSION.search(line):
            error.update(operator=match[1], version=int(match[2]))
        if line.startswith("Invalid model:"):
            error["model"] = line.split(":", 1)[1].strip()
        self.log.errors.append(error)
        return True

    def finish(self, ends_with_newline: bool) -> ParsedLog:
        self.new_model()
        log = self.log
        fit_hints(log.errors, log.compiler_version)
        for model in log.models:
            self._check(model, several=len(log.models) > 1,
                        last_row_cut=not ends_with_newline and model is self.last_row_of)
        if log.lines_unrecognised:
            self.warn(f"{log.lines_unrecognised} line(s) not recognised as compiler output, "
                      f"e.g. {self.unknown[0]!r}")
        for count, what in ((self.skipped_inputs, "'Input model:' line(s) with nothing after "
                             "them were skipped"),
                            (self.skipped_models, f"model block(s) past the first "
                             f"{_MAX_MODELS} were not read"),
                            (self.skipped_errors, f"error line(s) past the first {_MAX_ERRORS} "
                             f"were not read")):
            if count:
                self.warn(f"{count} {what}")
        if log.models and any(m.rows for m in log.models) and not (
                self.saw_log_header or self.saw_stdout or log.compiler_version):
            log.kind = "table"
        elif self.saw_log_header:
            log.kind = "edgetpu.log"
        elif self.saw_stdout or log.errors or log.compiler_version or log.delegate_search:
            log.kind = "stdout"
        if not log.recognised:
            self.warn(NOTHING_RECOGNISED)
        log.warnings = self.warnings.lines()
        return log

    def _check(self, model: ModelLog, several: bool, last_row_cut: bool) -> None:
        """Decide whether the table is complete (True only when the summary's totals prove it)
        and warn about every sign of a cut and every reason it cannot be verified."""
        where = f" ({model.name})" if several else ""
        summary = model.summary
        cut = model.complete is False
        if model.has_header and not model.rows:
            self.warn(f"operator table header without rows{where}: the text was cut",
                      "header without rows")
            cut = True
        checked = False
        if model.rows:
            for key, table_value in (("ops_total", model.ops_in_table),
                                     ("ops_tpu", model.mapped_in_table),
                                     ("ops_cpu", model.ops_in_table - model.mapped_in_table)):
                if key in summary:
                    checked = True
                    if summary[key] != table_value:
                        self.warn(f"table rows give {table_value} for {key} but the summary "
                                  f"says {summary[key]}{where}: the table is incomplete",
                                  "table incomplete")
                        cut = True
            seen = set()
            for row in model.rows:
                if (row.operator, row.status) in seen:
                    self.warn(f"row {row.operator} / {row.status!r} appears twice{where}",
                              "row appears twice")
                seen.add((row.operator, row.status))
        if {"ops_total", "ops_tpu", "ops_cpu"} <= summary.keys() and \
                summary["ops_tpu"] + summary["ops_cpu"] != summary["ops_total"]:
            self.warn(f"the summary's totals do not add up{where}: {summary['ops_tpu']} on the "
                      f"Edge TPU + {summary['ops_cpu']} on the CPU is not "
                      f"{summary['ops_total']}; the table cannot be checked against them",
                      "totals do not add up")
            checked = False
        if model.not_all_mapped and "ops_tpu" in summary and "ops_cpu" not in summary:
            self.warn(f"text ends after the Edge TPU operation count{where}: the CPU count "
                      f"and the table are missing", "CPU count missing")
            cut = True
        if (self.log.command and self.log.command["flags"].get("show_operations")
                and not model.rows and not self.log.errors):
            self.warn(f"compiled with -s but no operator table follows{where}: the text was "
                      f"cut", "table missing")
            cut = True
        if cut:
            model.complete = False
        elif model.rows and checked:
            model.complete = True
        elif model.rows:
            model.complete = None
            if last_row_cut:
                self.warn(f"the last table row has no line break{where}: the text may be cut "
                          f"inside it, and no summary totals can tell", "last row cut")
            else:
                self.warn(f"completeness cannot be verified{where}: no summary lines (Total "
                          f"number of operations …) to check the table against",
                          "completeness cannot be verified")


# Failures that say why the compile stopped (the others close a failure or only report it).
_REASONS = ("NOT_QUANTIZED", "UNKNOWN_OP_VERSION", "DYNAMIC_TENSORS", "LARGE_ACTIVATIONS")


def fit_hints(errors: list[dict], compiler_version: str | None = None) -> None:
    """Make each hint fit what the log says: a hint that points to ERROR lines or says the
    compiler gave no reason is replaced when the log has no ERROR line, or names the reason
    on another line; one that suggests the newest compiler, when the log is from it."""
    reason = next((e["code"] for e in errors if e["code"] in _REASONS), None)
    error_lines = any(e["message"].startswith("ERROR") for e in errors)
    newest = (compiler_version or "").split(".")[0] == DEFAULT_COMPILER.split(".")[0]
    for error in errors:
        hint = _fitted_hint(error, reason, error_lines, newest)
        if hint:
            error["hint"] = hint


def _fitted_hint(error: dict, reason: str | None, error_lines: bool,
                 newest: bool) -> str | None:
    code, message = error["code"], error["message"]
    if newest and code in ("UNKNOWN_OP_VERSION", "INVALID_MODEL") and (
            code == "UNKNOWN_OP_VERSION" or (error_lines and not reason)):
        return (f"The converter wrote an op version that even compiler {DEFAULT_COMPILER}, the "
                "newest, does not know: convert with an older TensorFlow (2.8 or earlier) or "
                "with converter.experimental_new_converter = False, or rebuild the op from "
                "others (`tpulens analyze` names it).")
    if code == "INVALID_MODEL" and reason:
        return (f"The compiler refused the model for the reason on the {reason} line of this "
                "log: its hint says what to change.")
    if code == "INVALID_MODEL" and not error_lines:
        return ("The compiler could not read the model and printed no reason: check that "
                "the file is a whole TFLite model (`tpulens analyze` reads it), then try "
                "compiler 16.0 or convert with an older TensorFlow.")
    if code == "INTERNAL_ERROR" and not error_lines:
        return ("The compiler aborted without naming an op: try another compiler version, "
                "or end the Edge TPU part earlier with `edgetpu_compiler -i` to find the op "
                "it fails on.")
    if code == "COMPILATION_FAILED" and reason:
        return (f"The compile stopped for the reason on the {reason} line of this log: its "
                "hint says what to change.")
    if code == "COMPILATION_FAILED" and "interpreter" in message.lower():
        return ("The compiler's own TFLite interpreter could not load or run the model: check "
                "that it runs in tf.lite.Interpreter with every shape fixed (batch size 1), "
                "then compile again.")
    return None


NOTHING_RECOGNISED = ("no compiler output recognised in this text (no operator table, readable "
                      "summary line, compiler version or error)")


def parse_log(text: str) -> ParsedLog:
    """Parse compiler output text; never raises on odd text (see `ParsedLog.warnings`)."""
    parser = _Parser()
    if not text.strip():
        parser.log.lines_total = text.count("\n")
        parser.log.kind = "empty"
        parser.log.warnings.append("empty text: nothing to parse")
        return parser.log
    glued = 0
    for line in text.splitlines():
        parser.log.lines_total += 1
        parts = _GLUED.split(line) if _GLUE_HINT.search(line, 1) else (line,)
        glued += len(parts) - 1
        for part in parts:
            parser.line(part)
    if glued:
        parser.warn(f"{glued} line break(s) were missing (lines glued together) and were "
                    f"restored")
    return parser.finish(ends_with_newline=text.endswith(("\n", "\r")))


def decode_log_bytes(data: bytes, name: str = "<log>") -> str:
    """Bytes → text; binary files (TFLite models, archives, junk) raise InputError."""
    head = data[:4096]
    if b"TFL3" == data[4:8]:
        raise InputError(f"{name}: this is a TFLite model, not a compiler log "
                         f"(use `tpulens analyze` or `tpulens compare --compiled`)")
    if b"\0" in head:
        raise InputError(f"{name}: binary data, not a compiler log")
    text = data.decode("utf-8", errors="replace")
    sample = text[:4096]
    odd = sum(1 for c in sample if c == "\ufffd" or (ord(c) < 32 and c not in "\r\n\t"))
    if sample and odd > len(sample) // 10:
        raise InputError(f"{name}: {odd} of the first {len(sample)} characters are not text; "
                         f"not a compiler log")
    return text


STDIN = "-"


def read_log_text(path) -> tuple[str, str]:
    """(text, name) of a log file, or of standard input when `path` is '-'."""
    if str(path) == STDIN:
        return decode_log_bytes(sys.stdin.buffer.read(), "standard input"), "standard input"
    p = existing_file(path, "a compiler log")
    try:
        data = p.read_bytes()
    except OSError as err:
        raise InputError(f"{p}: cannot read: {err.strerror or err}") from None
    return decode_log_bytes(data, str(p)), str(p)


def parse_log_file(path) -> ParsedLog:
    """Read and parse a log file ('-': standard input); unreadable or binary input raises
    InputError."""
    return parse_log(read_log_text(path)[0])
