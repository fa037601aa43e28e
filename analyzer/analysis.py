"""The analysis JSON as one typed value: what `tpulens analyze --json` prints for a CPU model
(source "predicted") or a compiled one (source "compiler"), what the runners keep in
results/analysis/, what `compare` checks and what the site reads.

Each field is declared once, here: `to_json` writes it, `from_json` reads it back at its type
and tools/gen_analysis_schema.py documents it (docs/analysis.schema.json and the field table of
docs/data-contracts.md, checked by tests/test_analysis_schema.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from tpulens.analyzer import rules, typed_json
from tpulens.analyzer.rules import ConfidenceReason
from tpulens.analyzer.typed_json import FieldError, Fields, field, version_problem
from tpulens.analyzer.vocabulary import Confidence, Placement, Source, Verdict

SCHEMA_VERSION = 2  # 2: an op's tensors are written once, in input_tensors/output_tensors

# The codes no rule gives: an op that passes every check, and the two a compiled model's ops
# get (their placement is read from the file, not decided by a rule).
UNRULED_CODES = ("MAPPED", "EDGETPU_SUBGRAPH", "LEFT_ON_CPU")

# Codes earlier versions wrote, so their files (results/history/) still read: one code for
# every whole-model refusal (now one per model rule), ops whose results reached no output (now
# DROPPED), and three batch-axis rules since rewritten on the axes they check.
RETIRED_CODES = ("MODEL_REJECTED", "UNUSED_RESULT", "BATCH_AXIS", "PAD_BATCH", "SPLIT_BATCH")

# What decided an op: the reason codes of the rules registry (one per op, model and partition
# rule; advice rules choose a fix, not a reason) and the codes above. Built from the registry
# so a new rule's code is a member without a second list.
ReasonCode = StrEnum("ReasonCode", [(code, code) for code in sorted(
    {r.reason_code for r in rules.RULES if r.scope != rules.Scope.ADVICE}.union(
        UNRULED_CODES, RETIRED_CODES))],
    module=__name__)


class ModelKind(StrEnum):
    CPU = "cpu"  # a model for the compiler: its verdicts are predicted
    COMPILED = "compiled"  # a *_edgetpu.tflite the compiler wrote: its placement is read


@dataclass(frozen=True)
class ModelFile:
    """The model analysed."""

    path: str | None = field("Its path as given (relative to results/ in a results "
                             "directory).")
    name: str | None = field("Its file name.")
    size_bytes: int | None = field("Its size.")
    kind: ModelKind | None = field("`cpu` (verdicts predicted) or `compiled` (a "
                                   "`*_edgetpu.tflite`, placement read from the file).")


@dataclass(frozen=True)
class AnalysisOptions:
    """The compiler options the analysis assumes."""

    enable_multiple_subgraphs: bool | None = field(
        "-a: later parts mapped as extra Edge TPU subgraphs (compiler 15+).",
        omitted_when_none=True)
    intermediate_tensors: tuple[str, ...] | None = field(
        "-i: the tensors the Edge TPU subgraph ends at.", omitted_when_none=True)
    min_runtime_version: int | None = field(
        "-m: the Edge TPU runtime targeted; for a compiled model, its packages' runtime.")


@dataclass(frozen=True)
class Parameters:
    """The parameter bytes of the Edge TPU subgraphs."""

    on_chip_bytes: int | None = field("Cached in the Edge TPU's on-chip memory.")
    off_chip_bytes: int | None = field("Streamed over the link at every inference.")


@dataclass(frozen=True)
class CostEstimate:
    """What the model costs on the Edge TPU (docs/edgetpu-performance.md). Devices are `usb3`
    (USB Accelerator on USB 3.0, desktop host), `usb2` (USB 2.0, a Raspberry Pi 3 class host)
    and `pcie` (M.2 / mini PCIe, the Dev Board)."""

    parameters: Parameters = field("The parameter split.", default_factory=Parameters)
    cycles: int | None = field("The Edge TPU's own estimate of its cycles (null for a compiled "
                               "model whose compiler wrote none, as 16.0 does).")
    latency_ms: dict[str, float | None] = field(
        "Per device: one warm inference, model execution as Coral measures it (the link "
        "transfers and the ops left on the CPU included); null without cycles.",
        default_factory=dict)
    latency_range_ms: dict[str, tuple[float | None, ...]] = field(
        "Per device: [low, high], the range the measured figure fell in for 80 % of the "
        "calibration models.", default_factory=dict)
    parts_ms: dict[str, dict[str, float]] = field(
        "Per device: what each part takes (invoke, edgetpu, streamed_parameters, instructions, "
        "input_output, crossings, cpu_ops); their sum is the latency.", default_factory=dict)
    source: Source | None = field("`predicted` (from the predicted placement) or `compiler` "
                                  "(the compiler's parameter split and cycles).")

    @classmethod
    def of(cls, found) -> CostEstimate | None:
        """The value of an estimate.Estimate as the analysis holds it (None: no estimate)."""
        return typed_json.read(cls, found.to_json(), Fields()) if found else None


@dataclass(frozen=True)
class WhatIfCase:
    """The predicted outcome with other compiler options."""

    label: str | None = field("`with -a`, `with -i T`, `with compiler 16.0` or `if fully "
                              "int8-quantized`.")
    flags: tuple[str, ...] = field("The compiler flags of the case (empty for int8).",
                                   default=())
    ops_tpu: int | None = field("Ops on the Edge TPU.")
    ops_cpu: int | None = field("Ops on the CPU.")
    ops_low_confidence: int | None = field("Verdicts that are unsure.", omitted_when_none=True)
    latency_ms: dict[str, float | None] | None = field(
        "The estimate's latency per device under that placement (empty when nothing maps).",
        omitted_when_none=True)
    blocking: tuple[str, ...] | None = field(
        "For int8: the op types that would still stay on the CPU.", omitted_when_none=True)


@dataclass(frozen=True)
class Summary:
    """The counts and the model's verdict."""

    ops_total: int | None = field("Ops in the model.")
    ops_tpu: int | None = field("Ops on the Edge TPU (a compiled model: its Edge TPU custom "
                                "ops, one per Edge TPU subgraph).")
    ops_cpu: int | None = field("Ops on the CPU.")
    ops_dropped: int | None = field("Ops whose results reach no model output.",
                                    omitted_when_none=True)
    ops_low_confidence: int | None = field("Verdicts that are unsure.", omitted_when_none=True)
    tpu_subgraphs: int | None = field("Edge TPU subgraphs.")
    verdict: Verdict | None = field("`full` (every op on the Edge TPU), `partial`, `none` "
                                    "(nothing maps) or `fails` (the compiler rejects the whole "
                                    "model; `errors` says why).")
    compiler_version: str | None = field("The compiler version.")
    source: Source | None = field("Where the verdicts come from.")
    what_if: tuple[WhatIfCase, ...] | None = field(
        "For a model with ops off the Edge TPU: -a, an -i cut before the first op near a size "
        "limit, the newest compiler and, for a model with float tensors, full int8 "
        "quantization.", omitted_when_none=True)
    notes: tuple[str, ...] | None = field(
        "Doubts about the whole model, said once (an op type never seen compiled, a tensor "
        "larger than any seen in a successful compile).", omitted_when_none=True)
    estimate: CostEstimate | None = field("What the model costs on the Edge TPU; null when no op "
                                      "runs there.")


@dataclass(frozen=True)
class TableRow:
    """A row of the compiler's Operator / Count / Status table (dropped ops have none)."""

    operator: str = field("The op type (a compiled model's custom op: its custom code).",
                          default="")
    count: int = field("Ops of that type with that status.", default=0)
    status: str | None = field("The status (null for a compiled model's CPU ops).")


@dataclass(frozen=True)
class OpTensor:
    """A tensor an op reads or writes."""

    name: str = field("The tensor's name.", default="")
    dtype: str = field("Its data type (`INT8`, `FLOAT32`, ...).", default="?")
    shape: tuple[int, ...] | None = field("Its shape.")


def written_tensors(tensors) -> list[OpTensor]:
    """A subgraph's tensors as an analysis writes them: one value each, shared by its ops."""
    return [OpTensor(t.name, t.dtype, t.shape) for t in tensors]


def op_tensor_fields(op, tensors: list[OpTensor]) -> tuple[tuple, tuple]:
    """An op's `input_tensors` and `output_tensors`, from its subgraph's written_tensors."""
    return (tuple([tensors[i] for i in op.inputs if i >= 0]),
            tuple([tensors[i] for i in op.outputs if i >= 0]))


@dataclass(frozen=True)
class Culprit:
    """A tensor that makes an op refused for its data type or op version."""

    op: int = field("The op computing on it.", default=0)
    opcode: str = field("That op's type.", default="")
    tensor: str = field("The tensor's name.", default="")
    role: str = field("`input` or `output` of that op.", default="")
    dtype: str = field("Its data type.", default="")
    producer: int | None = field("The op that writes it (an input's producer).")
    producer_opcode: str | None = field("That op's type.")


def _reason_code(fields: Fields, value: object, where: str) -> ReasonCode | str:
    """A known code at its type. An unknown one fails a strict read; a lenient read (an older
    file, another version's rules) keeps it as plain text, so the op still shows, and notes
    it."""
    if not isinstance(value, str):
        fields.wrong(where, value, "a string")
        return ""
    if value in ReasonCode.__members__:
        return ReasonCode(value)
    fields.unknown(where, value, "a known reason code (`tpulens rules` lists them)")
    return value


@dataclass(frozen=True)
class OpVerdict:
    """One op of the model and where it runs."""

    subgraph: int = field("The op's subgraph.", default=0)
    index: int = field("Its index in the subgraph.", default=0)
    opcode: str = field("Its type.", default="?")
    custom_code: str | None = field("A custom op's code.")
    version: int | None = field("Its op version.")
    options: dict = field("Its builtin options.", default_factory=dict)
    input_tensors: tuple[OpTensor, ...] = field("Its input tensors.", default=())
    output_tensors: tuple[OpTensor, ...] = field("Its output tensors.", default=())
    placement: Placement = field(
        "`TPU`, `CPU`, or `dropped` for an op whose results reach no model output (counted in "
        "`ops_dropped`, no row in `table`). A strict read refuses an unknown placement; the "
        "site's lenient read takes it as CPU.",
        default=Placement.CPU)
    status: str | None = field(
        "The compiler's status string, byte for byte (null for a compiled model's CPU op: the "
        "file does not record why).")
    reason_code: ReasonCode = field(
        "What decided it: the code of the rule that refused it (`tpulens rules` lists them), "
        "`MAPPED`, or for a compiled model `EDGETPU_SUBGRAPH` and `LEFT_ON_CPU`; older files "
        "may hold codes since retired (`MODEL_REJECTED`, `UNUSED_RESULT`, `BATCH_AXIS`, "
        "`PAD_BATCH`, `SPLIT_BATCH`). A lenient reader keeps a code this tpulens does not know "
        "as text and notes it.", default="",
        read=_reason_code)
    root_cause: int | None = field(
        "For \"More than one subgraph is not supported\", the index (same subgraph) of the CPU "
        "op that cut the Edge TPU partition; otherwise null.")
    explanation: str = field("Why, in words.", default="")
    detail: str | None = field("What in this op breaks its rule.", omitted_when_none=True)
    culprits: tuple[Culprit, ...] | None = field(
        "For a refusal by op version or data type, the tensors that cause it.",
        omitted_when_none=True)
    fix: str = field("What to change.", default="")
    confidence: Confidence | None = field(
        "`high` or `low` (a predicted verdict).", omitted_when_none=True)
    confidence_reason: str | None = field(
        "Why a verdict is low: near a fitted size limit, an inferred rule, an op type never "
        "seen compiled, or depending on such an op.", omitted_when_none=True)
    confidence_code: ConfidenceReason | None = field(
        "Why a verdict is low, as a code (absent when it is sure): `near_limit` (between the "
        "largest size seen mapped and the smallest seen refused), `never_mapped` (no op of the "
        "type was seen mapped at any size), `inferred_rule` (the deciding rule was never seen "
        "in compiler output), `inferred_runtime` (the runtime the op needs is inferred), "
        "`dead_op` (it feeds no model output: no compiler output shows where it goes), "
        "`depends_on_unsure` (mapped, fed by an op that may be refused), `cut_by_unsure` (cut "
        "off by an op whose refusal is unsure).", omitted_when_none=True)
    source: Source | None = field("`compiler` for a compiled model's op.",
                                  omitted_when_none=True)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Its input tensors' names (schema 1 also wrote them as a field)."""
        return tuple([t.name for t in self.input_tensors])

    @property
    def outputs(self) -> tuple[str, ...]:
        """Its output tensors' names."""
        return tuple([t.name for t in self.output_tensors])


@dataclass(frozen=True)
class PlacementDifference:
    """An op the real compiler placed, or gave a status, otherwise than predicted."""

    subgraph: int = field("The op's subgraph.", default=0)
    index: int = field("Its index in the subgraph.", default=0)
    opcode: str = field("Its type.", default="")
    output: str = field("Its first output tensor's name.", default="")
    predicted_placement: Placement | None = field("Where the prediction puts it.")
    predicted_status: str | None = field("The predicted status.")
    actual_placement: Placement | None = field("Where the compiler put it.")
    actual_status: str | None = field("The compiler's status (null: the compiled model leaves "
                                      "it on the CPU and no log says why).")


@dataclass(frozen=True)
class TwinPrediction:
    """The prediction a compiled twin was compared with."""

    flags: tuple[str, ...] = field("Its compiler flags: `[\"-a\"]` for a twin with several "
                                   "Edge TPU subgraphs (only -a makes them), else empty.",
                                   default=())
    ops_total: int | None = field("Ops in the CPU model.")
    ops_tpu: int | None = field("Ops predicted on the Edge TPU.")
    ops_cpu: int | None = field("Ops predicted on the CPU.")
    tpu_subgraphs: int | None = field("Edge TPU subgraphs predicted.")
    verdict: Verdict | None = field("The predicted verdict.")
    ops_low_confidence: int | None = field("Predicted verdicts that are unsure.")
    compiler_version: str | None = field("The compiler version predicted for.")


@dataclass(frozen=True)
class CompiledFrom:
    """A compiled twin's CPU model and the compiler's placement of its ops (files from before
    the prediction was compared hold only the path and the first three counts)."""

    path: str | None = field("The CPU model's path.")
    ops_total: int | None = field("Ops in the CPU model.")
    ops_tpu: int | None = field("Its ops the compiler put on the Edge TPU.")
    ops_cpu: int | None = field("Its ops the compiler left on the CPU.")
    tpu_subgraphs: int | None = field("Edge TPU subgraphs in the compiled model.",
                                      omitted_when_none=True)
    multiple_subgraphs: bool | None = field(
        "Several Edge TPU subgraphs: the model was compiled with -a.", omitted_when_none=True)
    prediction: TwinPrediction | None = field("The prediction compared with.",
                                              omitted_when_none=True)
    differences: tuple[PlacementDifference, ...] | None = field(
        "The ops the compiler placed otherwise than predicted.", omitted_when_none=True)
    summary_differences: tuple[str, ...] | None = field(
        "Other differences, in words (e.g. the number of Edge TPU subgraphs).",
        omitted_when_none=True)


@dataclass(frozen=True)
class SubgraphName:
    """A subgraph of the model."""

    name: str = field("The subgraph's name in the model.", default="")


def _error_messages(fields: Fields, value: object, where: str) -> tuple[str, ...]:
    """Error messages: strings, or objects with a message (the compiler's shape)."""
    if not isinstance(value, list):
        fields.wrong(where, value, "a list")
        return ()
    out = []
    for i, error in enumerate(value):
        message = error.get("message") if isinstance(error, dict) else error
        if isinstance(message, str):
            out.append(message)
        else:
            fields.wrong(f"{where}[{i}]", error, "a message")
    return tuple(out)


def _ops(fields: Fields, value: object, where: str) -> tuple[OpVerdict, ...]:
    """The ops; one that does not say its index is at its position in the list."""
    if not isinstance(value, list):
        fields.wrong(where, value, "a list")
        return ()
    out = []
    for i, op in enumerate(value):
        if not isinstance(op, dict):
            fields.wrong(f"{where}[{i}]", op, "an object")
            continue
        read = typed_json.read(OpVerdict, op, fields, f"{where}[{i}].")
        out.append(read if "index" in op else replace(read, index=i))
    return tuple(out)


@dataclass(frozen=True)
class Analysis:
    """Where every op of a model runs on the Edge TPU, why, and what it costs."""

    schema_version: int = field("The version of this shape.", default=SCHEMA_VERSION)
    model: ModelFile = field("The model analysed.", default_factory=ModelFile)
    source: Source | None = field(
        "`predicted` (the analyzer's rules), `compiler` (read from a compiled "
        "`*_edgetpu.tflite`) or `log` (a compiler log).")
    compiler_version: str | None = field(
        "The compiler version (null for a compiled model whose packages carry none, as "
        "released compilers write).")
    options: AnalysisOptions = field("The compiler options.", default_factory=AnalysisOptions)
    summary: Summary = field("Counts, verdict, what-ifs, notes and cost.",
                             default_factory=Summary)
    table: tuple[TableRow, ...] = field("The compiler's table, in order of first appearance.",
                                        default=())
    errors: tuple[str, ...] = field("Why the compiler rejects the whole model.", default=(),
                                    read=_error_messages)
    ops: tuple[OpVerdict, ...] = field("Every op, in subgraph and index order.", default=(),
                                       read=_ops)
    edgetpu: dict | None = field(
        "A compiled model: the file's description, its `packages` (with their executables), "
        "`custom_ops` pointing into them by index, `boundary_tensors`, `cpu_ops_histogram`.",
        omitted_when_none=True)
    warnings: tuple[str, ...] | None = field("A compiled model: parts the reader could not "
                                             "decode.", omitted_when_none=True)
    compiled_from: CompiledFrom | None = field(
        "A compiled model in a batch beside the CPU model it was made from: the compiler's "
        "placement in that model's terms and how the prediction differs.",
        omitted_when_none=True)
    subgraphs: tuple[SubgraphName, ...] | None = field(
        "The subgraphs' names, when recorded.", omitted_when_none=True)

    def to_json(self) -> dict:
        return typed_json.write(self)

    @classmethod
    def from_json(cls, data: dict, fields: Fields | None = None) -> Analysis:
        """The analysis in `data`. Without `fields`, a field of the wrong type raises
        FieldError naming it; with lenient `fields`, it is noted there and left at its
        default. A schema version this tpulens does not read raises either way."""
        problem = version_problem(data, SCHEMA_VERSION)
        if problem:
            raise FieldError(problem)
        if not is_analysis(data):
            raise FieldError("not an analysis JSON (no summary/ops)")
        return typed_json.read(cls, data, fields or Fields())


def is_analysis(data: dict) -> bool:
    """Analysis JSONs share results/analysis/ with other artifacts (e.g. comparisons)."""
    return isinstance(data.get("summary"), dict) and ("ops" in data or "table" in data)
