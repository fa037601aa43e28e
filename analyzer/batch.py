"""Analyse many models at once: files and directories in, one analysis per `.tflite` out.

Directories are searched recursively for `*.tflite`. A compiled `X_edgetpu.tflite` found with
its `X.tflite` (the name edgetpu_compiler gives its output) is its compiled twin: it is listed
right after it and, when it really was compiled from it, carries the compiler's per-op truth in
the CPU model's terms and the ops where the prediction differs, so the two rows read side by
side and count as one model. A twin with several Edge TPU subgraphs was compiled with -a (the
compiler makes one without it): it is compared with the prediction made with -a. A bad file is
one error in the batch, not the end of it.
"""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path

from tpulens.analyzer import compiled
from tpulens.analyzer.analysis import (
    Analysis,
    CompiledFrom,
    PlacementDifference,
    TwinPrediction,
)
from tpulens.analyzer.analyze import Options, analysis_of, analyze_model
from tpulens.analyzer.formats import directory_format
from tpulens.analyzer.model import Model, read_model
from tpulens.analyzer.vocabulary import Verdict
from tpulens.errors import InputError

COMPILED_SUFFIX = "_edgetpu.tflite"


@dataclass
class Outcome:
    """One model of a batch: its analysis, or the one-line error that stopped it."""

    path: Path
    result: Analysis | None = None
    error: str | None = None
    twin_of: Path | None = None  # the CPU model this compiled file is named after

    @cached_property
    def analysis(self) -> dict | None:
        """The analysis JSON, made when first read (`analyze --json` writes `result` as text
        without it); `result` is final once the batch returns."""
        return self.result.to_json() if self.result else None

    @property
    def verdict(self) -> str | None:
        return self.result.summary.verdict if self.result else None

    @property
    def is_twin(self) -> bool:
        """A compiled file checked to be made from the CPU model listed before it: the same
        model, counted once."""
        return self.twin_of is not None and self.result is not None \
            and self.result.compiled_from is not None


def models_of(outcomes: list[Outcome]) -> list[tuple[Outcome, Outcome | None]]:
    """The batch as models: each (outcome, its compiled twin or None)."""
    models: list[tuple[Outcome, Outcome | None]] = []
    for outcome in outcomes:
        if outcome.is_twin and models and models[-1][0].path == outcome.twin_of:
            models[-1] = (models[-1][0], outcome)
        else:
            models.append((outcome, None))
    return models


def _tflite_files(directory: Path) -> tuple[list[Path], list[Outcome]]:
    """Every *.tflite below `directory`, sorted (symlinked directories are not followed), and
    an error outcome for each folder that could not be read: a batch gate must not pass a
    model it never saw."""
    found, unreadable = [], []

    def refused(err: OSError) -> None:
        unreadable.append(Outcome(Path(err.filename or directory),
                                  error=f"{err.filename or directory}: unreadable folder "
                                  f"({err.strerror or err})"))

    for root, dirs, files in os.walk(directory, onerror=refused):
        dirs.sort()
        found += [Path(root) / f for f in sorted(files) if f.lower().endswith(".tflite")]
    return found, unreadable


def find_models(paths: list[str]) -> tuple[list[Path], list[Outcome]]:
    """The model files named by `paths` (files as given, directories searched), each once, and
    an error outcome for each path that names none (missing, or a directory without one)."""
    models: dict[Path, None] = {}
    unfound = []
    for text in paths:
        path = Path(text)
        try:
            is_dir, exists = path.is_dir(), path.exists()
        except OSError as err:  # a parent folder that cannot be searched
            unfound.append(Outcome(path, error=f"{path}: unreadable ({err.strerror or err})"))
            continue
        if is_dir:
            found, unreadable = _tflite_files(path)
            unfound += unreadable
            if not found and not unreadable:
                known = directory_format(path)
                unfound.append(Outcome(path, error=known.message(path) if known else
                                       f"{path}: no .tflite file in this directory or below it"))
            models.update(dict.fromkeys(found))
        elif exists:
            models[path] = None
        else:
            unfound.append(Outcome(path, error=f"{path}: no such file or directory"))
    return list(models), unfound


def twin_order(paths: list[Path]) -> list[tuple[Path, Path | None]]:
    """(path, CPU twin or None), each X_edgetpu.tflite moved right after its X.tflite."""
    present = set(paths)
    twins = {}
    for path in paths:
        if path.name.endswith(COMPILED_SUFFIX):
            cpu = path.with_name(path.name[:-len(COMPILED_SUFFIX)] + ".tflite")
            if cpu in present:
                twins[cpu] = path
    ordered = []
    for path in paths:
        if path in twins.values():
            continue
        ordered.append((path, None))
        if path in twins:
            ordered.append((twins[path], path))
    return ordered


def analyzed(model: Model, options: Options) -> Analysis:
    """The analysis of a read model: the prediction, or what a compiled model holds."""
    if compiled.is_compiled(model):
        return compiled.compiled_analysis(model)
    return analysis_of(analyze_model(model, options))


def analyze_loaded(model: Model, options: Options) -> dict:
    """The analysis JSON of a read model."""
    return analyzed(model, options).to_json()


def _compiled_from(twin: Analysis, cpu: Model, out: Model, prediction: Analysis,
                   options: Options) -> Analysis:
    """A compiled twin's analysis with the compiler's truth in the CPU model's terms and the
    ops where the prediction differs from it."""
    # Only twins need the comparison (and the log reader it imports).
    from tpulens.analyzer.compare import compare_analysis
    from tpulens.analyzer.ground_truth import compiled_from_problem

    problem = compiled_from_problem(cpu, out)
    if problem:
        return replace(twin, warnings=(*twin.warnings, f"named like the compiled {cpu.path} "
                                       f"but not compiled from it: {problem}"))
    subgraphs = sum(map(compiled.is_edgetpu_op, out.operators))
    # Without -a the compiler makes one Edge TPU subgraph: several say the compile used -a
    # (analyzer/compare.py reads a compiled model the same way).
    with_a = subgraphs > 1 and options.compiler.multiple_subgraphs \
        and not options.enable_multiple_subgraphs
    if with_a:
        prediction = analysis_of(analyze_model(
            cpu, options._replace(enable_multiple_subgraphs=True)))
    truth = compare_analysis(prediction, cpu, out)
    summary = prediction.summary
    return replace(twin, warnings=(*twin.warnings, *truth.warnings), compiled_from=CompiledFrom(
        str(cpu.path), *(truth.actual[key] for key in ("ops_total", "ops_tpu", "ops_cpu",
                                                       "tpu_subgraphs")),
        multiple_subgraphs=subgraphs > 1,
        prediction=TwinPrediction(
            ("-a",) if prediction.options.enable_multiple_subgraphs else (),
            summary.ops_total, summary.ops_tpu, summary.ops_cpu, summary.tpu_subgraphs,
            summary.verdict, summary.ops_low_confidence, summary.compiler_version),
        differences=tuple(PlacementDifference(**asdict(d)) for d in truth.op_differences),
        summary_differences=tuple(truth.summary_differences)))


def _located(err: InputError, path: Path) -> str:
    message = str(err)
    return message if message.startswith(str(path)) else f"{path}: {message}"


@contextmanager
def collector_paused():
    """The garbage collector paused while one model is read and analysed: the many thousand
    objects that builds (tensors, ops, contexts, verdicts) all live until its analysis is
    written, so collecting among them finds nothing (7 % of the instructions of analysing
    a 700-op model). They are collected as usual afterwards."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def analyze_batch(paths: list[Path], options: Options) -> list[Outcome]:
    """Analyse every model in twin order; only the last CPU model read is kept, for its twin."""
    outcomes = []
    previous: tuple[Path, Model, Analysis] | None = None
    for path, twin_of in twin_order(paths):
        outcome = Outcome(path, twin_of=twin_of)
        try:
            with collector_paused():
                model = read_model(path)
                analysis = analyzed(model, options)
            if twin_of and previous and previous[0] == twin_of \
                    and compiled.is_compiled(model) and not compiled.is_compiled(previous[1]):
                analysis = _compiled_from(analysis, previous[1], model, previous[2], options)
            outcome.result = analysis
            previous = (path, model, analysis)
        except InputError as err:
            outcome.error = _located(err, path)
            previous = None
        outcomes.append(outcome)
    return outcomes


def at_or_below(verdict: str | None, threshold: str) -> bool:
    """Whether a verdict is `threshold` or worse (full > partial > none > fails)."""
    order = list(Verdict)
    return verdict is not None and order.index(Verdict(verdict)) >= order.index(
        Verdict(threshold))


def model_at_or_below(model: tuple[Outcome, Outcome | None], threshold: str) -> bool:
    """Whether a model's prediction, or its compiled twin (the real compiler), is at or
    below `threshold`: a gate passes neither a bad prediction nor a bad compile."""
    return any(at_or_below(o.verdict, threshold) for o in model if o is not None)
