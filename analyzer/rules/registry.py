"""The rule registry: what a rule is (its scope, status, reason code, fix and evidence), what a
check may look at (OpContext), empirical limits and the doubts they raise, and the decorators
that register checks. The order in which checks win is not here: the package's CHECK_ORDER
says it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from tpulens.analyzer.compilers import Compiler
from tpulens.analyzer.corpus_citations import SEEN_IN
from tpulens.analyzer.model import Model, Operator, Subgraph, Tensor, constant_values
from tpulens.analyzer.rules.tables import EIGHT_BIT_IF_INT8, FLOATS, QUANTIZED, refused_tensors
from tpulens.analyzer.vocabulary import EvidenceKind

DOCUMENTED, OBSERVED, INFERRED = EvidenceKind

class Scope(StrEnum):
    OP = "op"  # checked on every op; the first rule an op breaks decides its status
    MODEL = "model"  # refuses the whole model: the compiler writes no Edge TPU model
    PARTITION = "partition"  # given by the partitioner to ops that pass every op rule
    ADVICE = "advice"  # chooses the fix shown for a CPU op from its place in the model


@dataclass(frozen=True, init=False)
class Evidence:
    """Where a rule comes from: its kind and citations (Coral doc rows, issue threads,
    corpus items `pairs/<repo>@<commit>/<file>#<op>`), all resolvable from
    docs/edgetpu-rules.md."""

    kind: EvidenceKind
    citations: tuple[str, ...]

    def __init__(self, kind: EvidenceKind, *citations: str):
        object.__setattr__(self, "kind", EvidenceKind(kind))
        object.__setattr__(self, "citations", citations)


class OpContext:
    """What a rule may look at: the op, its tensors, the model and the compiler settings.
    `as_int8` answers "what if the model were fully int8-quantized": float tensors count as
    int8; `folded` are the tensors that are constants once the model is int8. Checks only
    read it.

    Every check reads the tensor lists, so they are made with the context: `inputs`,
    `outputs`, `activations` (what the TPU computes on: the inputs that are neither constants
    nor state, and the outputs that are not state) and `refused`, the activations whose data
    type the op is refused for (floats count as int8 in the int8 what-if): what the 8-bit rule
    reports, and the op's culprits. Made for every op of every analysis: a plain class with
    slots that reads the op's tensors in one pass (a dataclass's generated __init__ and
    __post_init__, and a call per list, cost a fourth more)."""

    __slots__ = ("model", "subgraph", "op", "compiler", "runtime", "as_int8", "folded",
                 "inputs", "outputs", "activations", "refused", "_row")

    def __init__(self, model: Model, subgraph: Subgraph, op: Operator, compiler: Compiler,
                 runtime: int, as_int8: bool = False, folded: frozenset[int] = frozenset()):
        self.model, self.subgraph, self.op = model, subgraph, op
        self.compiler, self.runtime, self.as_int8, self.folded = compiler, runtime, as_int8, folded
        tensors = subgraph.tensors
        self.inputs, self.outputs, self.activations = inputs, outputs, activations = [], [], []
        for i in op.inputs:
            if i >= 0:  # -1: an absent optional input
                t = tensors[i]
                inputs.append(t)
                if not (t.is_constant or t.is_variable or i in folded):
                    activations.append(t)
        for i in op.outputs:
            if i >= 0:
                t = tensors[i]
                outputs.append(t)
                if not t.is_variable:
                    activations.append(t)
        self.refused = refused_tensors(op.opcode, activations, op.outputs,
                                       EIGHT_BIT_IF_INT8 if as_int8 else QUANTIZED)
        self._row: tuple[int, Tensor | None] | None = None

    @property
    def row(self) -> tuple[int, Tensor | None]:
        """The longest row (x times channels: the two innermost dimensions, as yxz lays them
        out) of the tensors computed on, and its tensor (the first of the longest); worked
        out on first use."""
        if self._row is None:
            longest: tuple[int, Tensor | None] = (0, None)
            for t in self.activations:
                row = math.prod(t.shape[-2:])
                if longest[1] is None or row > longest[0]:
                    longest = (row, t)
            self._row = longest
        return self._row

    def counted_as_int8(self, folded: frozenset[int]) -> OpContext:
        """This op in the what-if of a fully int8-quantized model. An op reading a weight
        folded to a constant computes on other tensors: its context is made again. Any other
        keeps what this context already read (its tensors, what it computes on), which the
        what-if cannot change. Called on a context that does not count as int8 itself
        (nothing folded)."""
        op = self.op
        if not folded.isdisjoint(op.inputs):
            return OpContext(self.model, self.subgraph, op, self.compiler, self.runtime, True,
                             folded)
        other = object.__new__(OpContext)  # a copy, without reading the tensors again
        other.model, other.subgraph, other.op = self.model, self.subgraph, op
        other.compiler, other.runtime, other.as_int8, other.folded = (
            self.compiler, self.runtime, True, folded)
        other.inputs, other.outputs = self.inputs, self.outputs
        other.activations, other._row = self.activations, self._row
        other.refused = refused_tensors(op.opcode, other.activations, op.outputs,
                                        EIGHT_BIT_IF_INT8)
        return other

    def constant(self, tensor: Tensor) -> bool:
        return tensor.is_constant or tensor.index in self.folded

    def dtype(self, tensor: Tensor) -> str:
        if self.as_int8 and tensor.dtype in FLOATS:
            return "INT8"
        return tensor.dtype

    def input(self, i: int) -> Tensor | None:
        ids = self.op.inputs
        return self.subgraph.tensors[ids[i]] if i < len(ids) and ids[i] >= 0 else None

    def values(self, i: int) -> tuple | None:
        tensor = self.input(i)
        return constant_values(self.model, tensor) if tensor else None


class ConfidenceReason(StrEnum):
    """Why a verdict is unsure, as a code the analyzer acts on (the what-if cuts only before
    ops near a limit); the words shown beside it are for people."""

    NEAR_LIMIT = "near_limit"  # between the largest size seen mapped and the smallest refused
    NEVER_MAPPED = "never_mapped"  # no op of the type was seen mapped at any size
    INFERRED_RULE = "inferred_rule"  # the deciding rule was never seen in compiler output
    INFERRED_RUNTIME = "inferred_runtime"  # the runtime the op needs is inferred
    DEAD_OP = "dead_op"  # feeds no model output: no compiler output shows where it goes
    DEPENDS_ON_UNSURE = "depends_on_unsure"  # mapped, fed by an op that may be refused
    CUT_BY_UNSURE = "cut_by_unsure"  # cut off by an op whose refusal is unsure


class Doubt(NamedTuple):
    """Why a verdict is unsure: its code and the sentence shown."""

    code: ConfidenceReason
    text: str


class Limit(NamedTuple):
    """An empirical limit: `measure` of an op against `threshold`, with the corpus values the
    threshold was fitted on (the largest seen mapped, the smallest seen refused). Between the
    two nothing is known, so a verdict there is unsure."""

    threshold: int
    name: str  # what is measured, in words
    of: Callable[[OpContext], int]
    largest_mapped: int | None  # None: no op of these types was seen mapped
    smallest_refused: int | None  # None: none was seen refused

    def uncertain(self, ctx: OpContext) -> Doubt | None:
        """Why the verdict for this op is unsure, or None when it lies outside the interval.
        With nothing seen mapped there is no boundary to be near: the op type itself is
        unknown below the smallest refusal."""
        value = self.of(ctx)
        if self.smallest_refused is not None and value >= self.smallest_refused:
            return None
        if self.largest_mapped is not None and value <= self.largest_mapped:
            return None
        refused = (f"refused from {self.smallest_refused:,}" if self.smallest_refused
                   is not None else "never seen refused")
        if self.largest_mapped is None:
            return Doubt(ConfidenceReason.NEVER_MAPPED,
                         f"this op type was never seen mapped at any size: {ctx.op.opcode} "
                         f"with {self.name} {value:,} ({refused})")
        return Doubt(ConfidenceReason.NEAR_LIMIT,
                     f"near an empirical size limit: {self.name} {value:,} (seen mapped up to "
                     f"{self.largest_mapped:,}, {refused})")


@dataclass(frozen=True)
class Rule:
    """A registered rule: what it checks (`check`, on the ops of `ops` or every op), the
    compiler's status string and the reason code it gives, its fix and its evidence."""

    name: str
    text: str
    status: str
    reason_code: str
    fix: str
    ops: frozenset[str] | None  # None: every op
    check: Callable | None  # OP: (OpContext) -> str | None; MODEL: (Model, Compiler) -> ...
    evidence: Evidence
    scope: Scope = Scope.OP
    limit: Limit | None = field(default=None, compare=False)
    fixes: dict[str, str] = field(default_factory=dict, compare=False)  # op type -> its fix
    # The op passes the compiler's op checks and is refused by its place: cut off by the
    # partition, it gets the partition's status, not the rule's.
    partition_first: bool = False

    def applies_to(self, opcode: str) -> bool:
        return self.ops is None or opcode in self.ops

    def fix_for(self, opcode: str) -> str:
        """The fix for an op of this type: its own when the rule has one, else the rule's."""
        return self.fixes.get(opcode, self.fix)


# Every rule, in the order the modules defining them were imported. The order in which checks
# win is CHECK_ORDER's (the package's __init__), never this one.
REGISTERED: list[Rule] = []


def _register(scope: Scope, check: Callable | None, name: str, doc: str, status: str,
              reason_code: str, fix: str, evidence: Evidence, ops=None, limits=None,
              limit: Limit | None = None, fixes: dict[str, str] | None = None,
              partition_first: bool = False) -> Rule:
    if not isinstance(evidence, Evidence):
        raise ValueError(f"rule {name}: evidence must be an Evidence")
    evidence = Evidence(evidence.kind, *evidence.citations, *SEEN_IN.get(name, ()))
    if not evidence.citations:
        raise ValueError(f"rule {name}: evidence with at least one citation is required")
    numbers = {k: f"{v:,}" if isinstance(v, int) else v for k, v in (limits or {}).items()}
    text = " ".join(doc.split()).format(**numbers)
    entry = Rule(name, text, status, reason_code, fix.format(**numbers),
                 frozenset(ops) if ops else None, check, evidence, scope, limit, fixes or {},
                 partition_first)
    REGISTERED.append(entry)
    return entry


def rule(status: str, reason_code: str, fix: str, evidence: Evidence,
         ops: tuple[str, ...] | None = None, limits: dict | None = None,
         limit: Limit | None = None, fixes: dict[str, str] | None = None,
         partition_first: bool = False):
    """Register an op check (CHECK_ORDER says where it stands among the others).
    `limits` are formatted into the docstring and the fix ({name} placeholders); `fixes`
    replace the fix for the op types they name; `partition_first`: an op the partition cuts
    off gets the partition's status instead of the rule's."""

    def register(check: Callable[[OpContext], str | None]):
        _register(Scope.OP, check, check.__name__, check.__doc__ or "", status, reason_code,
                  fix, evidence, ops, limits, limit, fixes, partition_first)
        return check

    return register


def model_rule(message: str, reason_code: str, fix: str, evidence: Evidence,
               limits: dict | None = None):
    """Register a whole-model check: (Model, Compiler) -> detail or None (CHECK_ORDER says
    which refusal is reported first). `message` is the compiler's own error line; `limits`
    are formatted into the docstring."""

    def register(check: Callable[[Model, Compiler], str | None]):
        _register(Scope.MODEL, check, check.__name__, check.__doc__ or "", message,
                  reason_code, fix, evidence, limits=limits)
        return check

    return register


def partition_verdict(name: str, status: str, reason_code: str, text: str, fix: str,
                      evidence: Evidence) -> Rule:
    """Register a verdict the partitioner gives (it has no check of its own)."""
    return _register(Scope.PARTITION, None, name, text, status, reason_code, fix, evidence)


def advice(reason_code: str, evidence: Evidence):
    """Register fix advice: (OpContext, the rule the op broke, at_tail) -> fix or None. The
    first advice in CHECK_ORDER that answers replaces the rule's own fix; the docstring says
    when it applies."""

    def register(choose: Callable[[OpContext, Rule, bool], str | None]):
        _register(Scope.ADVICE, choose, choose.__name__, choose.__doc__ or "", "",
                  reason_code, "", evidence)
        return choose

    return register


def yxz(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The three innermost dimensions as the Edge TPU lays a tensor out: y, x, z (channels),
    with 1s in front of tensors of rank below 3."""
    y, x, z = ((1, 1, 1) + tuple(shape))[-3:]
    return y, x, z


