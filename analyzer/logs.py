"""Parse what `edgetpu_compiler` prints: `X_edgetpu.log` files, stdout (with or without `-s`),
co-compilation of several models, `-d` delegate-search lines, and failures.

Users paste these from terminals and issue threads, so the text may have extra lines, lose its
head or tail, or be abridged with "...". The parser reads every line it recognises, never raises
on text, and says in `warnings` what looked cut, abridged or unknown.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tpulens.analyzer.vocabulary import Status

from tpulens.errors import InputError, existing_file

SCHEMA_VERSION = 1
MAPPED = Status.MAPPED
STATUSES = tuple(Status)
_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
_ROW = re.compile(r"([A-Z][A-Z0-9_]*)\s+(\d+)(?:\s+(\S.*))?")
_HEADER = re.compile(r"Operator\s+Count\s+Status\b")
_VERSION = re.compile(r"Edge ?TPU Compiler version\s+(\d+(?:\.\d+)+)", re.I)
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
# Lines that carry no data but are expected in compiler output.
_NOISE = (
    "Started a compilation timeout timer", "Compilation child process completed",
    "See the operation log file", "INFO: ", "Model successfully compiled but not all",
    "Compilation succeeded", "```",
)
# Whole-model failures: line prefix → stable error code.
_ERRORS = (
    ("Model not quantized", "NOT_QUANTIZED"),
    ("Invalid model", "INVALID_MODEL"),
    ("Model could not be parsed", "INVALID_MODEL"),
    ("ERROR: Didn't find op for builtin opcode", "UNKNOWN_OP_VERSION"),
    ("ERROR: Attempting to use a delegate that only supports static-sized", "DYNAMIC_TENSORS"),
    ("Compilation failed: Compilation failed due to large activation", "LARGE_ACTIVATIONS"),
    ("Internal compiler error", "INTERNAL_ERROR"),
    ("Compilation failed", "COMPILATION_FAILED"),
    ("ERROR:", "COMPILER_ERROR"),
)
_OPCODE_VERSION = re.compile(r"opcode '([^']+)' version '(\d+)'")


@dataclass
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
    match = re.match(r"(\d+)\.(\d+)", version)
    return f"{match[1]}.{match[2]}" if match else None


def parse_size(text: str) -> int | None:
    """'21.75KiB' → 22272 bytes; None when the text is not a size."""
    match = re.fullmatch(r"([\d.]+)\s*(B|KiB|MiB|GiB)", text.strip())
    if not match:
        return None
    try:
        return round(float(match[1]) * _UNITS[match[2]])
    except ValueError:
        return None


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
    return status, f"unknown status {status!r}"


def _clean(line: str) -> str:
    line = _ANSI.sub("", line).replace("\t", "  ").strip()
    while line.startswith(">"):
        line = line[1:].strip()
    if line.startswith("|") and line.count("|") >= 3:  # a markdown table row
        line = "  ".join(cell.strip() for cell in line.strip("|").split("|"))
    return line


def _command(line: str) -> dict:
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


class _Parser:
    def __init__(self) -> None:
        self.log = ParsedLog()
        self.model = ModelLog()
        self.saw_log_header = False  # "Input:" lines exist only in X_edgetpu.log files
        self.saw_stdout = False
        self.unknown: list[str] = []

    def new_model(self) -> None:
        if self.model.has_content():
            self.log.models.append(self.model)
        self.model = ModelLog()

    def warn(self, message: str) -> None:
        if message not in self.log.warnings:
            self.log.warnings.append(message)

    def line(self, raw: str) -> None:
        line = _clean(raw)
        if not line:
            return
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
        if match[3] is None:
            self.warn(f"row cut before its status: {line!r}")
            self.model.complete = False
        status, problem = canonical_status(match[3] or "")
        if problem and match[3] is not None:
            self.warn(problem)
            self.model.complete = False
        self.model.rows.append(LogRow(match[1], int(match[2]), status))
        return True

    def _summary(self, line: str) -> bool:
        for prefix, key, kind in _SUMMARY:
            if not line.startswith(prefix):
                continue
            value = line[len(prefix):].strip()
            if key in self.model.summary and key not in ("ops_tpu", "ops_cpu"):
                self.new_model()  # a second model's block without its Input line
            if kind == "int":
                if not value.isdigit():
                    self.warn(f"unreadable number in {line!r}")
                    return True
                self.model.summary[key] = int(value)
            elif kind == "size":
                self.model.summary[key] = value
                size = parse_size(value)
                if size is not None:
                    self.model.summary[key + "_bytes"] = size
            else:
                self.model.summary[key] = value
            self.saw_stdout = True
            return True
        return False

    def _structure(self, line: str) -> bool:
        log = self.log
        if match := _VERSION.match(line):
            if self.model.has_content():
                self.new_model()
            if log.compiler_version and log.compiler_version != match[1]:
                self.warn(f"two compiler versions in one text: {log.compiler_version} and "
                          f"{match[1]}")
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
                self.new_model()
                self.model.input_model = line[len(prefix):].strip()
                self.saw_log_header |= is_log_file
                self.saw_stdout |= not is_log_file
                return True
        for prefix in ("Output model:", "Output:"):
            if line.startswith(prefix):
                self.model.output_model = line[len(prefix):].strip()
                return True
        if match := re.match(r"Models? compiled successfully in (\d+) ms", line):
            log.compiled = True
            log.compile_time_ms = int(match[1])
            self.saw_stdout = True
            return True
        if line.startswith("Model successfully compiled but not all"):
            self.model.not_all_mapped = True
            self.saw_stdout = True
            return True
        if match := re.match(r"Searching for valid delegate with step (\d+)", line):
            log.delegate_search = {"step": int(match[1]), "segments_tried": []}
            return True
        if match := re.match(r"Try to compile segment with (\d+) ops", line):
            log.delegate_search = log.delegate_search or {"step": None, "segments_tried": []}
            log.delegate_search["segments_tried"].append(int(match[1]))
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
        for prefix, code in _ERRORS:
            if line.startswith(prefix):
                if code == "COMPILATION_FAILED" and line.rstrip("! ") == "Compilation failed" \
                        and self.log.errors:
                    self.log.compiled = False  # the closing line after the real reason
                    return True
                error = {"code": code, "message": line}
                if match := _OPCODE_VERSION.search(line):
                    error.update(operator=match[1], version=int(match[2]))
                if line.startswith("Invalid model:"):
                    error["model"] = line.split(":", 1)[1].strip()
                self.log.errors.append(error)
                if code != "COMPILER_ERROR" or "failed" in line.lower():
                    self.log.compiled = False
                return True
        return False

    def finish(self) -> ParsedLog:
        self.new_model()
        log = self.log
        for model in log.models:
            self._check(model, several=len(log.models) > 1)
        if log.lines_unrecognised:
            self.warn(f"{log.lines_unrecognised} line(s) not recognised as compiler output, "
                      f"e.g. {self.unknown[0]!r}")
        if log.models and any(m.rows for m in log.models) and not (
                self.saw_log_header or self.saw_stdout or log.compiler_version):
            log.kind = "table"
        elif self.saw_log_header:
            log.kind = "edgetpu.log"
        elif self.saw_stdout or log.errors or log.compiler_version or log.delegate_search:
            log.kind = "stdout"
        if not log.models and not log.errors and not log.compiler_version:
            self.warn("no compiler output recognised in this text")
        return log

    def _check(self, model: ModelLog, several: bool) -> None:
        """Decide whether the table is complete and warn about every sign of a cut."""
        where = f" ({model.name})" if several else ""
        summary = model.summary
        cut = model.complete is False
        if model.has_header and not model.rows:
            self.warn(f"operator table header without rows{where}: the text was cut")
            cut = True
        if model.rows:
            for key, table_value in (("ops_total", model.ops_in_table),
                                     ("ops_tpu", model.mapped_in_table),
                                     ("ops_cpu", model.ops_in_table - model.mapped_in_table)):
                if key in summary and summary[key] != table_value:
                    self.warn(f"table rows give {table_value} for {key} but the summary says "
                              f"{summary[key]}{where}: the table is incomplete")
                    cut = True
            seen = set()
            for row in model.rows:
                if (row.operator, row.status) in seen:
                    self.warn(f"row {row.operator} / {row.status!r} appears twice{where}")
                seen.add((row.operator, row.status))
        if model.not_all_mapped and "ops_tpu" in summary and "ops_cpu" not in summary:
            self.warn(f"text ends after the Edge TPU operation count{where}: the CPU count "
                      f"and the table are missing")
            cut = True
        if (self.log.command and self.log.command["flags"].get("show_operations")
                and not model.rows and not self.log.errors):
            self.warn(f"compiled with -s but no operator table follows{where}: the text was "
                      f"cut")
            cut = True
        if cut:
            model.complete = False
        elif model.rows:
            model.complete = True if (model.has_header or summary) else None


def parse_log(text: str) -> ParsedLog:
    """Parse compiler output text; never raises on odd text (see `ParsedLog.warnings`)."""
    parser = _Parser()
    lines = text.splitlines()
    parser.log.lines_total = len(lines)
    if not text.strip():
        parser.log.kind = "empty"
        parser.log.warnings.append("empty text: nothing to parse")
        return parser.log
    glued = 0
    for line in lines:
        parts = _GLUED.split(line) if _GLUE_HINT.search(line, 1) else (line,)
        glued += len(parts) - 1
        for part in parts:
            parser.line(part)
    if glued:
        parser.warn(f"{glued} line break(s) were missing (lines glued together) and were "
                    f"restored")
    return parser.finish()


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


def parse_log_file(path) -> ParsedLog:
    """Read and parse a log file; unreadable or binary files raise InputError."""
    p = existing_file(path, "a compiler log")
    try:
        data = p.read_bytes()
    except OSError as err:
        raise InputError(f"{p}: cannot read: {err.strerror or err}") from None
    return parse_log(decode_log_bytes(data, str(p)))


def render_text(log: ParsedLog) -> str:
    """A short human-readable report of a parsed log."""
    out = [f"kind: {log.kind}   compiler: {log.compiler_version or 'unknown'}"]
    if log.command:
        out.append(f"command: {log.command['line']}")
    if log.delegate_search:
        tried = ", ".join(str(n) for n in log.delegate_search["segments_tried"])
        out.append(f"delegate search: step {log.delegate_search['step']}, segments tried: "
                   f"{tried or 'none'}")
    if log.compiled is not None:
        out.append("compilation: " + ("succeeded" if log.compiled else "FAILED"))
    for model in log.models:
        out.append("")
        out.append(f"model: {model.name}" + (f" -> {model.output_model}"
                                              if model.output_model else ""))
        for key, value in model.summary.items():
            if not key.endswith("_bytes"):
                out.append(f"  {key}: {value}")
        if model.rows:
            width = max(len(r.operator) for r in model.rows) + 2
            out.append(f"  {'Operator'.ljust(width)}{'Count':<7}Status")
            out.extend(f"  {r.operator.ljust(width)}{r.count:<7}{r.status}" for r in model.rows)
            state = {True: "complete", False: "INCOMPLETE"}.get(model.complete, "unknown")
            out.append(f"  ({model.ops_in_table} ops in table, {model.mapped_in_table} mapped; "
                       f"table {state})")
    for error in log.errors:
        out.append(f"error [{error['code']}]: {error['message']}")
    for warning in log.warnings:
        out.append(f"warning: {warning}")
    return "\n".join(out)

