"""Put the compiler's real result beside the analyzer's prediction and list every difference.

Truth comes from a compiled `*_edgetpu.tflite` (per-op placement, by tensor names) and/or a
compiler log (per-(operator, status) counts, plus the summary and any failure). Where both are
given, a CPU op's actual status is read from the log when its operator has only one non-mapped
status there.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tpulens.analyzer.analysis import Analysis, OpVerdict, PlacementDifference
from tpulens.analyzer.comparison import CompilerComparison, RowDifference
from tpulens.analyzer.compiled import is_compiled, is_edgetpu_op
from tpulens.analyzer.compilers import get_compiler
from tpulens.analyzer.ground_truth import compiled_from_problem, match_placement
from tpulens.analyzer.logs import MAPPED, ModelLog, ParsedLog, parse_log_file
from tpulens.analyzer.typed_json import write
from tpulens.analyzer.vocabulary import Placement, Source
from tpulens.errors import InputError

DEFAULT_COMPILER = "16.0"


@dataclass
class Comparison:
    cpu_model: str
    compiled_model: str | None
    log: str | None
    compiler_version: str
    version_source: str  # argument | log | default
    predicted: dict
    actual: dict
    op_differences: list[PlacementDifference] = field(default_factory=list)
    row_differences: list[RowDifference] = field(default_factory=list)
    summary_differences: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the options were chosen
    options: dict = field(default_factory=dict)  # the analyzer options of the prediction

    @property
    def agree(self) -> bool:
        return not (self.op_differences or self.row_differences or self.summary_differences)

    def to_json(self) -> dict:
        """The comparison in its one documented shape (CompilerComparison)."""
        return CompilerComparison.from_json({
            "agree": self.agree,
            "cpu_model": self.cpu_model, "compiled_model": self.compiled_model, "log": self.log,
            "compiler_version": self.compiler_version, "version_source": self.version_source,
            "options": self.options,
            "predicted": self.predicted, "actual": self.actual,
            "op_differences": [write(d) for d in self.op_differences],
            "row_differences": [write(d) for d in self.row_differences],
            "summary_differences": self.summary_differences,
            "warnings": self.warnings,
            "notes": self.notes,
        }).to_json()


def _log_statuses(model_log: ModelLog | None) -> dict[str, list[str]]:
    """operator → the non-mapped statuses the log gives it."""
    statuses: dict[str, list[str]] = {}
    for row in model_log.rows if model_log else ():
        if row.status != MAPPED and row.status not in statuses.setdefault(row.operator, []):
            statuses[row.operator].append(row.status)
    return statuses


def _compare_rows(ops: tuple[OpVerdict, ...], model_log: ModelLog,
                  warnings: list[str]) -> list:
    predicted = Counter((o.opcode, o.status) for o in ops)
    actual = model_log.histogram()
    keys = set(predicted) | set(actual)
    if model_log.complete is False:
        logged = {operator for operator, _ in actual}
        keys = {k for k in keys if k[0] in logged}
        warnings.append("the log's table is incomplete: only operators it lists are compared")
    return [RowDifference(op, status, predicted.get((op, status), 0), actual.get((op, status), 0))
            for op, status in sorted(keys)
            if predicted.get((op, status), 0) != actual.get((op, status), 0)]


def compare_analysis(analysis: Analysis, cpu_model, compiled_model=None,
                     model_log: ModelLog | None = None, log_errors: list[dict] = ()) -> Comparison:
    """Compare an analysis with the truth from a compiled model and/or one model's log."""
    ops = analysis.ops
    warnings: list[str] = []
    predicted = {k: getattr(analysis.summary, k)
                 for k in ("ops_total", "ops_tpu", "ops_cpu", "tpu_subgraphs", "verdict")}
    actual: dict = {"source": []}
    result = Comparison(str(cpu_model.path), None, None, analysis.compiler_version, "",
                        predicted, actual, warnings=warnings)
    log_statuses = _log_statuses(model_log)

    if compiled_model is not None:
        actual["source"].append(Source.COMPILER)
        result.compiled_model = str(compiled_model.path)
        match = match_placement(cpu_model, compiled_model)
        warnings.extend(match.warnings)
        placement = match.placement
        tpu = sum(1 for p in placement.values() if p == Placement.TPU)
        actual.update(ops_total=len(placement), ops_tpu=tpu, ops_cpu=len(placement) - tpu,
                      tpu_subgraphs=sum(map(is_edgetpu_op, compiled_model.operators)))
        for op in ops:
            where = placement.get((op.subgraph, op.index))
            if where is None:
                continue
            if where == Placement.TPU:
                status = MAPPED
            else:
                known = log_statuses.get(op.opcode, [])
                status = known[0] if len(known) == 1 else None
            if where != op.placement or (status is not None and status != op.status):
                result.op_differences.append(PlacementDifference(
                    op.subgraph, op.index, op.opcode, op.outputs[0] if op.outputs else "",
                    op.placement, op.status, where, status))

    if model_log is not None:
        actual["source"].append(Source.LOG)
        if model_log.rows:
            result.row_differences = _compare_rows(ops, model_log, warnings)
            mapped = model_log.mapped_in_table
            usable = model_log.complete is not False  # True, or None: not checkable
            if compiled_model is not None and usable and mapped != actual["ops_tpu"]:
                warnings.append(f"the log maps {mapped} ops but the compiled model holds "
                                f"{actual['ops_tpu']} on the TPU: are they from the same run?")
            if usable:
                actual.setdefault("ops_total", model_log.ops_in_table)
                actual.setdefault("ops_tpu", mapped)
                actual.setdefault("ops_cpu", model_log.ops_in_table - mapped)
        for key in ("ops_total", "ops_tpu", "ops_cpu", "tpu_subgraphs"):
            if key in model_log.summary:
                actual.setdefault(key, model_log.summary[key])

    failed = [e for e in log_errors if e["code"] != "COMPILER_ERROR"] or list(log_errors)
    if failed and not (model_log and model_log.rows):
        actual["verdict"] = "fails"
        actual["errors"] = [e["message"] for e in failed]
        if predicted["verdict"] != "fails":
            result.summary_differences.append(
                f"the compiler failed ({failed[0]['code']}: {failed[0]['message']}) but the "
                f"analyzer predicts verdict '{predicted['verdict']}'")
    elif predicted["verdict"] == "fails" and (compiled_model is not None or (
            model_log is not None and model_log.rows)):
        result.summary_differences.append(
            "the analyzer predicts the compiler fails (" + "; ".join(analysis.errors)
            + ") but it compiled the model")
    if "tpu_subgraphs" in actual and actual["tpu_subgraphs"] != predicted["tpu_subgraphs"] \
            and actual.get("verdict") != "fails":
        result.summary_differences.append(
            f"Edge TPU subgraphs: predicted {predicted['tpu_subgraphs']}, actual "
            f"{actual['tpu_subgraphs']}")
    return result


def _log_model(log: ParsedLog, cpu_path: Path, log_path) -> ModelLog | None:
    if not log.models:
        return None
    found = log.model_for(cpu_path.name)
    if found is not None:
        return found
    only = log.models[0]
    if len(log.models) == 1 and only.input_model is None:
        return only  # stdout without its "Input model:" line
    if len(log.models) == 1:
        raise InputError(f"{log_path}: the log is for {Path(only.input_model).name}, not "
                         f"{cpu_path.name}; give the log of {cpu_path.name}'s compile")
    names = ", ".join(m.name for m in log.models)
    raise InputError(f"{log_path}: the log covers {len(log.models)} models ({names}) and none "
                     f"is {cpu_path.name}")


def _options_from_log(log: ParsedLog | None) -> dict:
    """-a, -m and -i as given on a pasted command line, to predict under the same flags."""
    flags = log.command["flags"] if log and log.command else {}
    options = {"enable_multiple_subgraphs": bool(flags.get("enable_multiple_subgraphs"))}
    runtime = str(flags.get("min_runtime_version", ""))
    if re.fullmatch(r"[0-9]{1,3}", runtime):
        options["min_runtime_version"] = int(runtime)
    if isinstance(flags.get("intermediate_tensors"), str):
        options["intermediate_tensors"] = tuple(
            t for t in flags["intermediate_tensors"].split(",") if t)
    return options


def _multiple_subgraphs(compiled_model, used: dict, log: ParsedLog | None,
                        compiler_version: str) -> str | None:
    """Turn -a on in `used` when the compiled model shows the compile used it: without -a the
    compiler makes one Edge TPU subgraph. The line saying so, or why it stays off (the log's
    command line, or a compiler without -a)."""
    count = sum(map(is_edgetpu_op, compiled_model.operators)) if compiled_model else 0
    if count < 2 or used.get("enable_multiple_subgraphs"):
        return None
    held = f"the compiled model holds {count} Edge TPU subgraphs, which only -a makes"
    if log is not None and log.command:
        return f"{held}, but the log's command line has no -a: predicted without it"
    compiler = get_compiler(compiler_version)
    if not compiler.multiple_subgraphs:
        return f"{held}, but compiler {compiler.version} has no -a: predicted without it"
    used["enable_multiple_subgraphs"] = True
    return f"{held}: predicted with -a"


def _read_compiled(path, cpu_model, cpu_path: Path):
    """The compiled model, refused in one line unless the compiler made it from `cpu_model`."""
    from tpulens.analyzer.model import read_model

    compiled_model = read_model(path)
    if not is_compiled(compiled_model):
        raise InputError(f"{path}: not a compiled model (no edgetpu-custom-op, and not "
                         f"written by the Edge TPU compiler); give the compiler's "
                         f"*_edgetpu.tflite with --compiled")
    problem = compiled_from_problem(cpu_model, compiled_model)
    if problem:
        raise InputError(f"{path}: not compiled from {cpu_path.name}: {problem}")
    return compiled_model


def compare_files(cpu_path, compiled_path=None, log_path=None,
                  compiler_version: str | None = None, options: dict | None = None
                  ) -> Comparison:
    """Read the files, predict with the analyzer, and compare (InputError on bad input).

    `options` (enable_multiple_subgraphs, intermediate_tensors, min_runtime_version) say how
    the real compile was run; those not given are taken from the command line in the log.
    """
    from tpulens.analyzer.analyze import analysis_of, analyze_model, make_options
    from tpulens.analyzer.model import read_model

    if compiled_path is None and log_path is None:
        raise InputError("nothing to compare with: give --compiled X_edgetpu.tflite and/or "
                         "--log X_edgetpu.log")
    cpu_path = Path(cpu_path)
    cpu_model = read_model(cpu_path)
    if is_compiled(cpu_model):
        raise InputError(f"{cpu_path}: is a compiled Edge TPU model; pass the CPU model first "
                         f"and this file with --compiled")
    compiled_model = (_read_compiled(compiled_path, cpu_model, cpu_path)
                      if compiled_path is not None else None)
    log = parse_log_file(log_path) if log_path is not None else None
    model_log = _log_model(log, cpu_path, log_path) if log else None
    if log is not None and not log.models and not log.errors:
        raise InputError(f"{log_path}: no compiler output recognised")

    source = "argument"
    if compiler_version is None and log is not None and log.compiler_release:
        compiler_version, source = log.compiler_release, Source.LOG
    elif compiler_version is None:
        compiler_version, source = DEFAULT_COMPILER, "default"
    used = {**_options_from_log(log), **(options or {})}
    note = _multiple_subgraphs(compiled_model, used, log, compiler_version)
    analysis = analysis_of(analyze_model(cpu_model, make_options(compiler_version, **used)))
    result = compare_analysis(analysis, cpu_model, compiled_model, model_log,
                              log.errors if log else [])
    result.version_source = source
    result.options = write(analysis.options)
    result.log = str(log_path) if log_path is not None else None
    if log is not None:
        result.warnings[:0] = [f"log: {w}" for w in log.warnings]
    if note:
        result.notes.append(note)
    if source == "default":
        result.warnings.append(f"compiler version not given and not in a log: predicted for "
                               f"{DEFAULT_COMPILER}")
    return result


def _flags(options: dict) -> str:
    """', -a -m 13 -i t1,t2' for the options the prediction used."""
    flags = ["-a"] if options.get("enable_multiple_subgraphs") else []
    if options.get("min_runtime_version"):
        flags.append(f"-m {options['min_runtime_version']}")
    if options.get("intermediate_tensors"):
        flags.append("-i " + ",".join(options["intermediate_tensors"]))
    return ", " + " ".join(flags) if flags else ""


def render_text(result: Comparison) -> str:
    """The verdict, the counts side by side, and a table of every difference."""
    p, a = result.predicted, result.actual
    sources = " + ".join(a.get("source", [])) or "?"
    out = [f"{Path(result.cpu_model).name}: prediction (compiler {result.compiler_version}, "
           f"{result.version_source}{_flags(result.options)}) vs actual ({sources})",
           f"  {'':14}{'predicted':>10}{'actual':>10}"]
    for key in ("ops_total", "ops_tpu", "ops_cpu", "tpu_subgraphs"):
        out.append(f"  {key:14}{p.get(key, '-')!s:>10}{a.get(key, '-')!s:>10}")
    if result.op_differences:
        out.append("")
        out.append(f"{len(result.op_differences)} op(s) differ:")
        for d in result.op_differences:
            out.append(f"  #{d.index} {d.opcode} ({d.output})")
            out.append(f"      predicted {d.predicted_placement}: {d.predicted_status}")
            out.append(f"      actual    {d.actual_placement}: "
                       f"{d.actual_status or '(status not in any log)'}")
    if result.row_differences:
        out.append("")
        out.append("log rows that differ (operator, status: predicted / actual):")
        for d in result.row_differences:
            out.append(f"  {d.operator}, {d.status}: {d.predicted} / {d.actual}")
    for line in result.summary_differences:
        out.append(f"differs: {line}")
    out += [f"note: {note}" for note in result.notes]
    for warning in result.warnings:
        out.append(f"warning: {warning}")
    out.append("")
    out.append("AGREE" if result.agree else "DIFFER")
    return "\n".join(out)
