"""The real compiler's placement of a CPU model's ops, where the results hold it, to show first on
the model's page with the prediction beside it.

Two places hold it: a record's comparison (`tpulens compare` of the model with its compiled
`*_edgetpu.tflite` or log: the actual counts and every op whose predicted placement the compiler
contradicts) and a compiled twin's `compiled_from` (`tpulens analyze` on a folder: the same, for
the twin's CPU model). When the comparison was made with the page's own prediction (same
compiler and options) and from a compiled model, every op's real placement is known: the
prediction's, except the ops listed as differing. Both come typed from report.load (read
leniently: a field of the wrong type was noted and left out); a difference whose placements are
unknown is left out here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tpulens.analyzer.analysis import CompiledFrom, PlacementDifference
from tpulens.analyzer.comparison import CompilerComparison
from tpulens.analyzer.typed_json import write
from tpulens.analyzer.vocabulary import Placement, Source, Status, Verdict
from tpulens.report.load import PublishedAnalysis, Results

COUNTS = ("ops_total", "ops_tpu", "ops_cpu", "tpu_subgraphs")


@dataclass
class RealPlacement:
    """What the real compiler did with a CPU model's ops, beside a prediction of them."""

    source: str  # Source.COMPILER (a compiled model) or Source.LOG (counts from a log)
    counts: dict[str, int]  # COUNTS the compiler's output gives
    predicted: dict[str, int]  # the same counts of the prediction compared with
    differences: list[PlacementDifference]  # each with both placements known
    other_differences: list[str]  # e.g. the number of Edge TPU subgraphs, a failed compile
    compared_with: str  # "" (the page's prediction) or how the one compared was made
    per_op: bool  # every op's real placement is known
    compiled_slug: str | None = None  # the compiled model's own page
    notes: list[str] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        return not self.differences and not self.other_differences


def _counts(counts: object) -> dict[str, int]:
    """The COUNTS a typed count holder gives (a negative count is left out)."""
    return {key: value for key in COUNTS
            if (value := getattr(counts, key, None)) is not None and value >= 0}


def _differences(items: tuple[PlacementDifference, ...] | None) -> list[PlacementDifference]:
    """The ops the compiler placed elsewhere than predicted (both placements known)."""
    return [d for d in items or () if d.subgraph >= 0 and d.index >= 0
            and d.predicted_placement is not None and d.actual_placement is not None
            and d.predicted_placement != d.actual_placement]


def _other_differences(comparison: CompilerComparison) -> list[str]:
    """What else the compiler's output says otherwise: an op placed as predicted but with
    another status, a row of the log's table with another count, the summary's words."""
    lines = [f"#{d.index} {d.opcode}: the compiler's status is "
             f"'{d.actual_status or 'not given'}', predicted '{d.predicted_status}'"
             for d in comparison.op_differences
             if d.predicted_placement == d.actual_placement]
    lines += [f"{r.operator}, '{r.status}': {r.actual} in the compiler's table, "
              f"{r.predicted} predicted" for r in comparison.row_differences]
    return lines + list(comparison.summary_differences)


def _flags(options: dict) -> str:
    """'-a -i t1' for the options of a prediction."""
    flags = ["-a"] if options.get("enable_multiple_subgraphs") is True else []
    tensors = options.get("intermediate_tensors")
    if isinstance(tensors, list) and tensors:
        flags.append("-i " + ",".join(map(str, tensors)))
    return " ".join(flags)


def from_comparison(comparison: CompilerComparison, data: dict) -> RealPlacement | None:
    """The comparison's truth for the analysis `data` (normalized), or None if it holds none."""
    counts = _counts(comparison.actual)
    if not counts:
        return None
    sources = comparison.actual.source
    options = write(comparison.options)
    version = comparison.compiler_version or ""
    same = options == data["options"] and version == data["summary"].get("compiler_version")
    compared_with = "" if same else \
        f"the prediction for compiler {version or '?'}" + (f" with {_flags(options)}"
                                                          if _flags(options) else "")
    return _checked(RealPlacement(
        Source.COMPILER if Source.COMPILER in sources else Source.LOG, counts,
        _counts(comparison.predicted), _differences(comparison.op_differences),
        _other_differences(comparison), compared_with,
        same and Source.COMPILER in sources), data)


def from_twin(twin: CompiledFrom, data: dict, compiled_slug: str) -> RealPlacement | None:
    """The truth a compiled twin's `compiled_from` gives for its CPU model's analysis."""
    counts = _counts(twin)
    if not counts:
        return None
    flags = twin.prediction.flags if twin.prediction else ()
    same = ("-a" in flags) == (data["options"].get("enable_multiple_subgraphs") is True)
    real = RealPlacement(
        Source.COMPILER, counts, _counts(twin.prediction), _differences(twin.differences),
        list(twin.summary_differences or ()),
        "" if same else "the prediction with " + " ".join(flags), same, compiled_slug)
    if twin.multiple_subgraphs is True:
        real.notes.append(f"The compiled model holds {counts.get('tpu_subgraphs', 'several')} "
                          "Edge TPU subgraphs, which only -a makes: it was compiled with -a.")
    return _checked(real, data)


def _checked(real: RealPlacement, data: dict) -> RealPlacement:
    """Per-op placement only when the prediction with its differences flipped gives the
    compiler's counts (the same ops, the same prediction)."""
    if not real.per_op:
        return real
    placed = placements(data["ops"], real.differences)
    tpu = sum(p == Placement.TPU for p in placed.values())
    if real.counts.get("ops_tpu") != tpu or real.counts.get("ops_total") != len(placed):
        return replace(real, per_op=False)
    return real


def placements(ops: list[dict],
               differences: list[PlacementDifference]) -> dict[tuple[int, int], str]:
    """Each op's real placement: the predicted one unless the compiler's differs."""
    placed = {(op["subgraph"], op["index"]): op["placement"] for op in ops}
    for d in differences:
        if (d.subgraph, d.index) in placed:
            placed[(d.subgraph, d.index)] = d.actual_placement
    return placed


def placed_by_compiler(data: dict, real: RealPlacement) -> dict:
    """The analysis as the compiler placed it: every op at its real placement (a differing op
    says what was predicted), no low-confidence mark (the compiler's word is not a guess), and
    the summary's counts and verdict the compiler's."""
    differing = {(d.subgraph, d.index): d for d in real.differences}
    ops = []
    for op in data["ops"]:
        d = differing.get((op["subgraph"], op["index"]))
        op = {**op, "confidence": "", "confidence_reason": ""}
        if d is not None:
            actual, predicted = d.actual_placement, d.predicted_placement
            status = d.actual_status or (Status.MAPPED if actual == Placement.TPU else
                                         "left on the CPU (the compiled model does not say why)")
            op |= {"placement": actual, "predicted_placement": predicted, "status": status,
                   "root_cause": None, "fix": "",
                   "explanation": f"Predicted on the {_where(predicted)} ({op['status']}); "
                                  f"the compiler placed it on the {_where(actual)}."}
        ops.append(op)
    summary = {key: value for key, value in data["summary"].items()
               if key != "ops_low_confidence"}
    summary |= real.counts | {"verdict": _verdict(real.counts), "source": real.source}
    return {**data, "ops": ops, "summary": summary, "source": real.source}


def with_counts(data: dict, real: RealPlacement) -> dict:
    """The analysis with the compiler's counts and verdict in its summary, the ops as
    predicted (their real placement is not known one by one)."""
    summary = data["summary"] | real.counts
    if {"ops_tpu", "ops_cpu"} <= set(real.counts):
        summary["verdict"] = _verdict(real.counts)
    return {**data, "summary": summary}


def _where(placement: str) -> str:
    return "Edge TPU" if placement == Placement.TPU else str(placement)


def _verdict(counts: dict[str, int]) -> str:
    if not counts.get("ops_tpu"):
        return Verdict.NONE
    return Verdict.PARTIAL if counts.get("ops_cpu") else Verdict.FULL


@dataclass
class Pairing:
    """Each analysis's real placement (CPU models) and CPU model's page (compiled models)."""

    real: dict[str, RealPlacement] = field(default_factory=dict)  # by the CPU page's slug
    cpu_of: dict[str, str] = field(default_factory=dict)  # compiled slug -> CPU slug


def pair(results: Results) -> Pairing:
    """Pair CPU and compiled analyses through the records (a record's analysis, compiled
    analysis and comparison) and the batch twins (`compiled_from` names its CPU model)."""
    found = Pairing()
    by_slug = {a.slug: a for a in results.analyses}
    for record in results.records:
        cpu = by_slug.get(record.analysis_slug)
        if cpu is None:
            continue
        if record.compiled_slug in by_slug:
            found.cpu_of.setdefault(record.compiled_slug, cpu.slug)
        real = from_comparison(cpu.comparison, cpu.data) if cpu.comparison else None
        if real is not None and cpu.slug not in found.real:
            real.compiled_slug = record.compiled_slug if record.compiled_slug in by_slug \
                else None
            found.real[cpu.slug] = real
    by_model: dict[str, PublishedAnalysis] = {}
    for analysis in results.analyses:
        path = analysis.data["model"].get("path")
        if analysis.data["source"] == Source.PREDICTED and isinstance(path, str):
            by_model.setdefault(path, analysis)
    for analysis in results.analyses:
        twin = _twin(analysis)
        cpu = by_model.get(twin.path) if twin else None
        if cpu is None or analysis.slug in found.cpu_of:
            continue
        found.cpu_of[analysis.slug] = cpu.slug
        real = from_twin(twin, cpu.data, analysis.slug)
        if real is not None:
            found.real.setdefault(cpu.slug, real)
    return found


def _twin(analysis: PublishedAnalysis) -> CompiledFrom | None:
    """A compiled analysis's `compiled_from`, when it names its CPU model."""
    twin = analysis.analysis.compiled_from
    if analysis.data["source"] != Source.COMPILER or twin is None or not twin.path:
        return None
    return twin
