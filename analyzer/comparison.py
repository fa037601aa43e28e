"""The comparison JSON as one typed value: what `tpulens compare --json` prints, a prediction
checked against the real compiler's output, and what the site reads of it beside a model
(results/analysis/*.comparison.json). Its fields are declared once, here, as the analysis's
are in analysis.py; tools/gen_analysis_schema.py documents both."""

from __future__ import annotations

from dataclasses import dataclass

from tpulens.analyzer import typed_json
from tpulens.analyzer.analysis import AnalysisOptions, PlacementDifference
from tpulens.analyzer.typed_json import FieldError, Fields, field, version_problem
from tpulens.analyzer.vocabulary import Source, Verdict

COMPARISON_SCHEMA_VERSION = 1  # the shape of `tpulens compare --json`


@dataclass(frozen=True)
class PredictedCounts:
    """The prediction's counts."""

    ops_total: int | None = field("Ops in the model.")
    ops_tpu: int | None = field("Ops predicted on the Edge TPU.")
    ops_cpu: int | None = field("Ops predicted on the CPU.")
    tpu_subgraphs: int | None = field("Edge TPU subgraphs predicted.")
    verdict: Verdict | None = field("The predicted verdict.")


@dataclass(frozen=True)
class CompilerCounts:
    """What the compiler's output gives (a count it does not give is absent)."""

    source: tuple[Source, ...] = field("`compiler` (a compiled model) and/or `log`.",
                                       default=())
    ops_total: int | None = field("Ops in the model.", omitted_when_none=True)
    ops_tpu: int | None = field("Ops on the Edge TPU.", omitted_when_none=True)
    ops_cpu: int | None = field("Ops on the CPU.", omitted_when_none=True)
    tpu_subgraphs: int | None = field("Edge TPU subgraphs.", omitted_when_none=True)
    verdict: Verdict | None = field("`fails` when the compile failed.", omitted_when_none=True)
    errors: tuple[str, ...] | None = field("Why it failed.", omitted_when_none=True)


@dataclass(frozen=True)
class RowDifference:
    """A row of the compiler's table whose count the prediction does not match."""

    operator: str = field("The op type.", default="")
    status: str = field("The status.", default="")
    predicted: int = field("Ops predicted with it.", default=0)
    actual: int = field("Ops the log gives it.", default=0)


@dataclass(frozen=True)
class CompilerComparison:
    """A prediction checked against the real compiler's output (`tpulens compare --json`)."""

    schema_version: int = field("The version of this shape.",
                                default=COMPARISON_SCHEMA_VERSION)
    agree: bool | None = field("Whether the prediction matches in every op and count.")
    cpu_model: str | None = field("The CPU model.")
    compiled_model: str | None = field("The compiled model compared with, if any.")
    log: str | None = field("The compiler log compared with, if any.")
    compiler_version: str | None = field("The compiler version predicted for.")
    version_source: str | None = field("Where it comes from: `argument`, `log` or "
                                       "`default`.")
    options: AnalysisOptions = field("The options of the prediction.",
                                     default_factory=AnalysisOptions)
    predicted: PredictedCounts = field("The prediction's counts.",
                                       default_factory=PredictedCounts)
    actual: CompilerCounts = field("The compiler's.", default_factory=CompilerCounts)
    op_differences: tuple[PlacementDifference, ...] = field(
        "The ops placed or labelled otherwise than predicted.", default=())
    row_differences: tuple[RowDifference, ...] = field(
        "The log's table rows whose counts differ.", default=())
    summary_differences: tuple[str, ...] = field("Other differences, in words.", default=())
    warnings: tuple[str, ...] = field("What made the comparison less certain.", default=())
    notes: tuple[str, ...] = field("How the options were chosen.", default=())

    def to_json(self) -> dict:
        return typed_json.write(self)

    @classmethod
    def from_json(cls, data: dict, fields: Fields | None = None) -> CompilerComparison:
        """The comparison in `data`, read as Analysis.from_json reads an analysis."""
        problem = version_problem(data, COMPARISON_SCHEMA_VERSION)
        if problem:
            raise FieldError(problem)
        if not isinstance(data.get("actual"), dict):
            raise FieldError("not a comparison JSON (no actual)")
        return typed_json.read(cls, data, fields or Fields())
