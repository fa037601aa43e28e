"""Predict the Edge TPU compiler's verdict for every op of a model, with causes, fixes and how
sure each verdict is, plus what other compiler options would change."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from tpulens.analyzer import corpus_evidence, estimate, partition, rules
from tpulens.analyzer.analysis import (
    Analysis,
    AnalysisOptions,
    CostEstimate,
    Culprit,
    ModelFile,
    ModelKind,
    OpTensor,
    OpVerdict,
    ReasonCode,
    Summary,
    TableRow,
    WhatIfCase,
    op_tensor_fields,
    written_tensors,
)
from tpulens.analyzer.compilers import COMPILERS, DEFAULT_COMPILER, Compiler, get_compiler
from tpulens.analyzer.model import Model, Operator, Subgraph, Tensor, read_model
from tpulens.analyzer.rules import ConfidenceReason, Doubt
from tpulens.analyzer.vocabulary import Confidence, Placement, Source, Status, Verdict
from tpulens.errors import InputError

HIGH, LOW = Confidence.HIGH, Confidence.LOW
# Read for every op: a name here is read faster than an enum member (Placement.TPU).
TPU, CPU, DROPPED = Placement.TPU, Placement.CPU, Placement.DROPPED
MAPPED, MAPPED_CODE = Status.MAPPED, ReasonCode.MAPPED
CUT_OFF = ReasonCode.AFTER_PARTITION  # the reason code of an op the partition cuts off
ADVICE = rules.Scope.ADVICE
DTYPE, VERSION = ReasonCode.UNSUPPORTED_DTYPE, ReasonCode.NON_8BIT_KERNEL_VERSION


# (op, opcode, tensor, role, dtype, producer, producer_opcode): analysis.Culprit's fields.
CulpritFields = tuple[int, str, str, str, str, int | None, str | None]


@dataclass(slots=True)
class OpDecision:
    """The analyzer's verdict on one op while the analysis is made: its confidence can still
    drop when an op it depends on turns out unsure. Written out as an analysis.OpVerdict."""

    subgraph: int
    index: int
    placement: Placement
    status: str
    reason_code: str
    root_cause: int | None = None
    explanation: str = ""
    fix: str = ""
    # Refused, and feeds no op that passes the op rules (not worked out for a what-if):
    tail: bool = False
    detail: str = ""  # what in this op breaks the rule (the rule's text is in explanation)
    # The tensors (and ops) that cause it, each as analysis.Culprit's fields in order (a tuple
    # builds several times faster than a dict, for every refused op):
    culprits: tuple[CulpritFields, ...] = ()
    confidence: Confidence = HIGH  # lowered by unsure(), once every verdict is known
    confidence_reason: str = ""
    confidence_code: ConfidenceReason | None = None  # what the reason is, for code

    def unsure(self, doubt: Doubt) -> None:
        if self.confidence == HIGH:
            self.confidence = LOW
            self.confidence_reason, self.confidence_code = doubt.text, doubt.code


class Options(NamedTuple):
    compiler: Compiler
    enable_multiple_subgraphs: bool = False
    intermediate_tensors: tuple[str, ...] = ()
    min_runtime_version: int | None = None
    as_int8: bool = False  # what-if: every float tensor counted as int8

    @property
    def runtime(self) -> int:
        return self.min_runtime_version or self.compiler.default_runtime


@dataclass
class ModelAnalysis:
    """A model's analysis in memory: the model and options it was made for, every op's
    decision, and what the analysis JSON (analysis_of) adds to them."""

    model: Model
    options: Options
    verdicts: list[OpDecision]
    errors: list[str] = field(default_factory=list)
    tpu_subgraphs: int = 0
    what_if: list[WhatIfCase] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # doubts about the model as a whole


# ---- model-level failures ----------------------------------------------------------------

def model_errors(model: Model, compiler: Compiler,
                 as_int8: bool = False) -> list[tuple[rules.Rule, str]]:
    """Whole-model failures: the compiler stops before mapping anything. `as_int8` asks about
    the model once fully int8-quantized, which "Model not quantized" cannot refuse."""
    found = []
    for r in rules.of_scope(rules.Scope.MODEL):
        if as_int8 and r.check is rules.model_quantized:
            continue
        detail = r.check(model, compiler)
        if detail:
            found.append((r, detail))
            if r.reason_code == ReasonCode.EMPTY_MODEL:
                break
    return found


def _rejected(model: Model, options: Options, errors) -> ModelAnalysis:
    failed, detail = errors[0]
    verdicts = [OpDecision(op.subgraph, op.index, CPU, failed.status,
                          failed.reason_code, None,
                          f"The compiler rejects the whole model: {failed.text} Here: "
                          f"{detail}.", failed.fix)
                for op in model.operators]
    if failed.evidence.kind == rules.INFERRED:
        for v in verdicts:
            v.unsure(Doubt(ConfidenceReason.INFERRED_RULE,
                           "rule inferred, no compiler output seen"))
    return ModelAnalysis(model, options, verdicts, [f"{r.status} ({d})" for r, d in errors], 0)


# ---- per-op checks -----------------------------------------------------------------------

def first_failure(ctx: rules.OpContext) -> tuple[rules.Rule, str] | None:
    """The first rule the op breaks, in the order the rule table lists them."""
    for r in rules.checks_for(ctx.op.opcode):
        detail = r.check(ctx)
        if detail:
            return r, detail
    return None


def _gone_when_int8(op: Operator, subgraph: Subgraph) -> bool:
    """The conversions to and from float that a fully int8-quantized model does not have: a
    DEQUANTIZE, and a QUANTIZE of a float (one of an int16 stays)."""
    if op.opcode != "QUANTIZE":
        return op.opcode == "DEQUANTIZE"
    source = next((i for i in op.inputs if i >= 0), None)
    return source is not None and subgraph.tensors[source].dtype in rules.FLOATS


def _own_confidence(ctx: rules.OpContext,
                    failed: tuple[rules.Rule, str] | None) -> Doubt | None:
    """Why this op's own verdict is unsure (None when it is sure)."""
    if failed is not None:
        r = failed[0]
        if r.limit is not None:  # its corpus bounds say where compiler output exists
            return r.limit.uncertain(ctx)
        if r.evidence.kind == rules.INFERRED:
            return Doubt(ConfidenceReason.INFERRED_RULE,
                         f"rule {r.reason_code} is inferred, no compiler output shows it")
        if r.name == "op_in_target_runtime" and not rules.SUPPORTED_OPS[
                ctx.op.opcode].runtime_documented:
            return Doubt(ConfidenceReason.INFERRED_RUNTIME,
                         f"the runtime {ctx.op.opcode} needs is inferred, not documented")
        return None
    for limit in rules.limits_for(ctx.op.opcode):
        if why := limit.uncertain(ctx):
            return why
    return None


def _failure_verdict(ctx: rules.OpContext, failed: rules.Rule, detail: str,
                     at_tail: bool, flow: partition.Dataflow | None,
                     memo: CheckMemo) -> OpDecision:
    """The verdict of an op that breaks a rule; without `flow` (a what-if, which only counts
    ops) no fix is chosen, no culprit named and `at_tail` is not kept."""
    op = ctx.op
    if flow is None:
        return OpDecision(op.subgraph, op.index, CPU, failed.status, failed.reason_code)
    for advice in rules.of_scope(ADVICE):
        if fix := advice.check(ctx, failed, at_tail):
            break
    else:
        fix = failed.fix_for(op.opcode)
    found = culprits(ctx, failed, flow, memo)
    if found and failed.reason_code == VERSION:
        detail += "; raised by " + _culprit_ops(found)
    return OpDecision(op.subgraph, op.index, CPU, failed.status, failed.reason_code, None,
                      f"{failed.text} Here: {detail}.", fix, at_tail, detail, found)


def culprits(ctx: rules.OpContext, failed: rules.Rule, flow: partition.Dataflow,
             memo: CheckMemo) -> tuple[CulpritFields, ...]:
    """The tensors that make an op refused for its data type or op version, each with the op
    that computes on it, its role there and the op that writes it (an input's producer). For a
    version, those are the non-8-bit ops of the same type anywhere in the subgraph: the
    converter gave all ops of a type their version, so they are found once per type."""
    sg = ctx.subgraph
    if failed.reason_code == DTYPE:
        return tuple(_culprits_of(ctx.op, ctx.refused, sg, flow))
    if failed.reason_code == VERSION:
        key = (sg.index, ctx.op.opcode)
        if key not in memo.version_culprits:
            memo.version_culprits[key] = tuple([
                found for op in _non_8bit_ops(sg, ctx.op.opcode)
                for found in _culprits_of(op, rules.refused_tensors(
                    op.opcode, sg.input_tensors(op) + sg.output_tensors(op), op.outputs),
                    sg, flow)])
        return memo.version_culprits[key]
    return ()


def _culprits_of(op: Operator, tensors: list[Tensor], sg: Subgraph,
                 flow: partition.Dataflow) -> list[CulpritFields]:
    """Of the tensors an op is refused for (rules.refused_tensors), those that are neither
    constants nor state, each with its role and its producer."""
    found = []
    for t in tensors:
        if t.is_constant or t.is_variable:
            continue
        if t.index in op.outputs:
            found.append((op.index, op.opcode, t.name, "output", t.dtype, None, None))
        else:
            maker = flow.producer.get(t.index)
            found.append((op.index, op.opcode, t.name, "input", t.dtype, maker,
                          None if maker is None else sg.operators[maker].opcode))
    return found


def _non_8bit_ops(subgraph: Subgraph, opcode: str) -> list[Operator]:
    """The ops of one type computing on a tensor that is not 8-bit (constants aside)."""
    return [op for op in subgraph.operators if op.opcode == opcode and any(
        t.dtype not in rules.QUANTIZED and not t.is_constant
        for t in subgraph.input_tensors(op) + subgraph.output_tensors(op))]


def _culprit_ops(found: tuple[CulpritFields, ...], most: int = 4) -> str:
    """'the INT64 ADD #455, #458, #474 (inputs from TILE #454, FLOOR_MOD #456)'."""
    seen_ops, dtypes, seen_makers = {}, {}, {}  # each in order of first appearance
    for op, opcode, _tensor, _role, dtype, maker, maker_opcode in found:
        seen_ops[op, opcode] = dtypes[dtype] = None
        if maker is not None:
            seen_makers[maker, maker_opcode] = None
    ops, makers = list(seen_ops), list(seen_makers)
    shown = ", ".join(f"#{i}" for i, _ in ops[:most]) + (" …" if len(ops) > most else "")
    text = f"the {'/'.join(dtypes)} {ops[0][1]} {shown}"
    if makers:
        text += " (inputs from " + ", ".join(f"{name} #{i}" for i, name in makers[:most]) + (
            " …" if len(makers) > most else "") + ")"
    return text


def _after_partition(ops: list[Operator], verdicts: list[OpDecision | None],
                     causes: list[int | None], counting: bool = False) -> None:
    """Fill in the verdicts of the ops cut off by the partition (None in `verdicts`), in op
    order; `counting` (a what-if) leaves out the words. Their words depend only on the root
    cause: made once per cause whose verdict is made."""
    r = rules.AFTER_PARTITION
    said: dict[int | None, tuple[str, str]] = {}
    for i, v in enumerate(verdicts):
        if v is not None:
            continue
        op, cause = ops[i], causes[i]
        if counting:
            verdicts[i] = OpDecision(op.subgraph, op.index, CPU, r.status, r.reason_code, cause)
            continue
        words = said.get(cause)
        if words is None:
            made = verdicts[cause] if cause is not None else None
            words = _cut_off_words(None if cause is None else ops[cause], made)
            if cause is None or made is not None:
                said[cause] = words
        verdicts[i] = OpDecision(op.subgraph, op.index, CPU, r.status, r.reason_code, cause,
                                 *words)


def _cut_off_words(cause: Operator | None, cause_verdict: OpDecision | None) -> tuple[str, str]:
    """The explanation and fix of an op cut off by the partition after `cause`."""
    r = rules.AFTER_PARTITION
    if cause is None:
        return r.text, r.fix
    why = cause_verdict.status if cause_verdict else "it is cut off"
    cause_fix = cause_verdict.fix if cause_verdict else ""
    cut = "" if rules.FLAG_I in cause_fix else f" Or cut the model before it with {rules.FLAG_I}."
    return (
        f"This op could run on the Edge TPU, but it depends on {cause.opcode} #{cause.index}, "
        f"which stays on the CPU ({why}). The compiler maps only the first Edge TPU subgraph, "
        "so everything fed by that op follows it to the CPU.",
        f"Fix the root cause, {cause.opcode} #{cause.index}: {cause_fix}{cut} Or try "
        f"{rules.FLAG_A} (compiler 15+) to map later parts as extra Edge TPU subgraphs.")


def _reaches_mappable(flow: partition.Dataflow, mappable: list[bool]) -> list[bool]:
    """For every op: does any op it feeds (directly or not) pass the op rules?"""
    reaches = [False] * len(mappable)
    feeds = flow.feeds
    for i in reversed(flow.order):
        for j in feeds[i]:
            if mappable[j] or reaches[j]:
                reaches[i] = True
                break
    return reaches


def analyze_subgraph(model: Model, subgraph: Subgraph, options: Options,
                     memo: CheckMemo | None = None,
                     counting: bool = False) -> tuple[list[OpDecision], int]:
    """Verdicts for every op of one subgraph, and the number of Edge TPU subgraphs. `memo`
    keeps each op's rule check between analyses that only change -a or -i; `counting` (the
    what-ifs) leaves out the words: fixes and culprits."""
    ops = subgraph.operators
    memo = CheckMemo() if memo is None else memo
    known = memo.subgraph_checks(model, subgraph, options)
    ctxs, failures = known.ctxs, known.failures
    flow = rules.flow_of(subgraph)
    words = None if counting else flow
    at_tail = [False] * len(ops) if counting else [
        not r for r in _reaches_mappable(flow, [f is None for f in failures])]
    if subgraph.index:
        verdicts = [_failure_verdict(ctx, *f, at_tail[ctx.op.index], words, memo)
                    for ctx, f in zip(ctxs, failures, strict=True) if f]
        for v in verdicts:
            v.unsure(Doubt(ConfidenceReason.INFERRED_RULE, "ops outside the main subgraph: "
                           "rule inferred, no compiler output seen"))
        return verdicts, 0

    live = memo.live_ops(flow, subgraph)
    cut, epoch_of, tpu_epochs, causes = memo.partition(flow, subgraph, options, known)
    chosen = set(tpu_epochs if options.enable_multiple_subgraphs else tpu_epochs[:1])
    first = tpu_epochs[0] if tpu_epochs else -1

    verdicts: list[OpDecision | None] = []
    for ctx, failed in zip(ctxs, failures, strict=True):
        op = ctx.op
        if op.index not in live:
            r = rules.DROPPED
            v = OpDecision(op.subgraph, op.index, DROPPED, r.status, r.reason_code,
                          None, r.text, r.fix)
            v.unsure(Doubt(ConfidenceReason.DEAD_OP, "no compiler output shows what happens "
                           "to ops that feed no model output"))
        elif failed is not None and not (failed[0].partition_first and causes[op.index]
                                         is not None and epoch_of[op.index] > first):
            v = _failure_verdict(ctx, *failed, at_tail[op.index], words, memo)
        elif failed is not None:
            v = None  # cut off by the partition first: its root cause's verdict, made first
        elif op.index in cut:
            r = rules.INTERMEDIATE_TENSOR
            v = OpDecision(op.subgraph, op.index, CPU, r.status, r.reason_code,
                          cut[op.index], r.text, r.fix)
        elif epoch_of[op.index] in chosen:
            v = OpDecision(op.subgraph, op.index, TPU, MAPPED, MAPPED_CODE)
        else:
            v = None  # after the partition: needs its root cause's verdict, made first
        verdicts.append(v)
    _after_partition(ops, verdicts, causes, counting)
    _confidence(known, verdicts, flow, causes)
    return verdicts, len(chosen)


class Partition(NamedTuple):
    """How a subgraph splits into CPU and Edge TPU epochs, for one set of op checks and -i cut:
    what -a, which only chooses which TPU epochs map, does not change."""

    cut: dict[int, int | None]  # ops after the -i tensors -> the op they follow
    epoch_of: list[int]  # every op's epoch (partition.epochs)
    tpu_epochs: list[int]  # the epochs of ops that can map, in order
    causes: list[int | None]  # every op's root cause: the first refused op it follows


def _partition(flow: partition.Dataflow, subgraph: Subgraph, known: Checks,
               names: tuple[str, ...]) -> Partition:
    cut = _intermediate_cut(flow, subgraph, names)
    mappable = [f is None and i not in cut for i, f in enumerate(known.failures)]
    epoch_of = partition.epochs(flow, mappable)
    tpu_epochs = sorted({e for e, m in zip(epoch_of, mappable, strict=True)
                         if m and e != partition.NO_EPOCH})
    first = tpu_epochs[0] if tpu_epochs else -1
    is_cause = [not m and epoch_of[i] > first for i, m in enumerate(mappable)]
    return Partition(cut, epoch_of, tpu_epochs, partition.root_causes(flow, subgraph, is_cause))


@dataclass
class Checks:
    """What the op rules say about every op of a subgraph under one compiler, runtime and
    data-type assumption: kept between analyses that only change -a or -i. The int8 what-if's
    keep the base analysis's context of an op that counting floats as int8 cannot change (its
    analysis counts ops: no fix or culprit is chosen from a context)."""

    ctxs: list[rules.OpContext]
    failures: list[tuple[rules.Rule, str] | None]  # each op's first failure
    own: list[Doubt | None]  # why each op's own verdict is unsure (None when sure)


@dataclass
class CheckMemo:
    """The rule checks of one model, kept between its analyses (the one shown and its
    what-ifs), which differ only in options: the model's errors per compiler and data-type
    assumption, every op's checks per subgraph, compiler, runtime and data-type assumption,
    the partition those checks and an -i cut give (what -a does not change), and what no
    option changes: each subgraph's live ops, the culprits of each refused op version."""

    errors: dict[tuple[Compiler, bool], list[tuple[rules.Rule, str]]] = field(
        default_factory=dict)
    checks: dict[tuple[int, Compiler, int, bool], Checks] = field(default_factory=dict)
    live: dict[int, set[int]] = field(default_factory=dict)  # subgraph -> its live ops
    partitions: dict[tuple, Partition] = field(default_factory=dict)  # by checks key and -i
    version_culprits: dict[tuple[int, str], tuple[CulpritFields, ...]] = field(
        default_factory=dict)

    def live_ops(self, flow: partition.Dataflow, subgraph: Subgraph) -> set[int]:
        """partition.live_ops, once per subgraph: no option changes which ops are live."""
        if subgraph.index not in self.live:
            self.live[subgraph.index] = partition.live_ops(flow, subgraph)
        return self.live[subgraph.index]

    def partition(self, flow: partition.Dataflow, subgraph: Subgraph, options: Options,
                  known: Checks) -> Partition:
        """_partition, once per subgraph, checks (`known`, as subgraph_checks keys them) and
        -i tensors: the -a what-if reuses the partition of the analysis it varies."""
        key = (*_checks_key(subgraph, options), options.intermediate_tensors)
        if key not in self.partitions:
            self.partitions[key] = _partition(flow, subgraph, known,
                                              options.intermediate_tensors)
        return self.partitions[key]

    def model_errors(self, model: Model, options: Options) -> list[tuple[rules.Rule, str]]:
        """model_errors, once per compiler: the int8 what-if drops "Model not quantized" from
        the base analysis's errors (no other model rule reads data types)."""
        key = (options.compiler, options.as_int8)
        if key not in self.errors:
            base = self.errors.get((options.compiler, False)) if options.as_int8 else None
            self.errors[key] = ([e for e in base if e[0].check is not rules.model_quantized]
                                if base is not None
                                else model_errors(model, options.compiler, options.as_int8))
        return self.errors[key]

    def subgraph_checks(self, model: Model, subgraph: Subgraph, options: Options) -> Checks:
        """_checks, once per subgraph, compiler, runtime and data-type assumption; the int8
        what-if starts from the base analysis's checks when they are known."""
        key = _checks_key(subgraph, options)
        known = self.checks.get(key)
        if known is None:
            base = self.checks.get(key[:3] + (False,)) if options.as_int8 else None
            known = self.checks[key] = _checks(model, subgraph, options, base)
        return known


def _checks_key(subgraph: Subgraph, options: Options) -> tuple[int, Compiler, int, bool]:
    """What an op's checks depend on besides the op: subgraph, compiler, runtime and data-type
    assumption."""
    return subgraph.index, options.compiler, options.runtime, options.as_int8


def _checks(model: Model, subgraph: Subgraph, options: Options, base: Checks | None) -> Checks:
    """Every op's first failure and own doubt. The int8 what-if starts from the base
    analysis's checks (`base`) and checks again only the ops that counting floats as int8 can
    change: those touching a float tensor, and the conversions an int8 model does not have
    (nothing to check: they pass, and carry no doubt)."""
    folded = _folded_weights(subgraph) if options.as_int8 else frozenset()
    if base is None:
        ctxs = [rules.OpContext(model, subgraph, op, options.compiler, options.runtime,
                                options.as_int8, folded) for op in subgraph.operators]
        failures = [first_failure(ctx) for ctx in ctxs]
        own = [_own_confidence(ctx, f) for ctx, f in zip(ctxs, failures, strict=True)]
        if options.as_int8:
            for i, op in enumerate(subgraph.operators):
                if _gone_when_int8(op, subgraph):
                    failures[i] = own[i] = None
        return Checks(ctxs, failures, own)
    floats = _float_tensors(subgraph)
    ctxs, failures, own = list(base.ctxs), list(base.failures), list(base.own)
    for i, ctx in enumerate(base.ctxs):
        op = ctx.op
        if _gone_when_int8(op, subgraph):
            failures[i] = own[i] = None
            continue
        if floats.isdisjoint(op.inputs) and floats.isdisjoint(op.outputs):
            continue
        ctx = ctxs[i] = ctx.counted_as_int8(folded)
        failures[i] = first_failure(ctx)
        own[i] = _own_confidence(ctx, failures[i])
    return Checks(ctxs, failures, own)


def _float_tensors(subgraph: Subgraph) -> frozenset[int]:
    floats = rules.FLOATS
    return frozenset([t.index for t in subgraph.tensors if t.dtype in floats])


def _folded_weights(subgraph: Subgraph) -> frozenset[int]:
    """Results of DEQUANTIZE ops on constants (float16 weights): constants once int8."""
    tensors, folded = subgraph.tensors, []
    for op in subgraph.operators:
        if op.opcode == "DEQUANTIZE":
            for i in op.inputs:
                if i >= 0 and not tensors[i].is_constant:
                    break
            else:
                folded += op.outputs
    return frozenset(folded)


def _confidence(known: Checks, verdicts: list[OpDecision], flow: partition.Dataflow,
                causes: list[int | None]) -> None:
    """Mark unsure placements: an op's own rule or limit, then what depends on unsure ops.

    A mapped op is unsure when a limit it passes is unsure, and so is every mapped op it feeds
    (they would fall out with it). An op refused for an unsure reason is unsure unless a
    surely refused op cuts it off anyway; an op cut off by an unsure refusal is unsure."""
    own, failures = known.own, known.failures
    doubt: list[int | None] = [None] * len(verdicts)  # the unsure op a mapped op depends on
    for i in flow.order:
        v = verdicts[i]
        if v.placement == TPU:
            if own[i]:
                v.unsure(own[i])
                doubt[i] = i
            elif doubt[i] is not None:
                v.unsure(Doubt(ConfidenceReason.DEPENDS_ON_UNSURE,
                               f"depends on op #{doubt[i]}, which may be refused "
                               f"({own[doubt[i]].text})"))
        elif v.placement == CPU and failures[i] is not None:
            cause = causes[i]  # a surely refused op that cuts it off leaves it sure
            if own[i] and not (cause is not None and verdicts[cause].confidence == HIGH):
                v.unsure(own[i])
        elif v.root_cause is not None and verdicts[v.root_cause].confidence == LOW:
            v.unsure(Doubt(ConfidenceReason.CUT_BY_UNSURE,
                           f"cut off by op #{v.root_cause}, whose verdict is unsure "
                           f"({verdicts[v.root_cause].confidence_reason})"))
        if v.placement == TPU and doubt[i] is not None:
            for j in flow.feeds[i]:
                if doubt[j] is None:
                    doubt[j] = doubt[i]


# ---- model-level notes -------------------------------------------------------------------
# Doubts about the corpus's coverage, not about the rule that decided an op: said once for the
# model, never as a low mark on every op they might touch.

def model_notes(model: Model, options: Options, verdicts: list[OpDecision]) -> list[str]:
    """Op types predicted mapped that no real compile has shown mapped, and a compile larger
    than any seen succeed with this compiler."""
    notes = []
    main = model.subgraphs[0] if model.subgraphs else None
    tpu = [main.operators[v.index] for v in verdicts
           if v.subgraph == 0 and v.placement == TPU] if main else []
    unseen = sorted({op.opcode for op in tpu} - corpus_evidence.MAPPED_OP_TYPES)
    if unseen:
        verb, them = ("is", "it") if len(unseen) == 1 else ("are", "them")
        notes.append(f"{', '.join(unseen)} {verb} predicted mapped from Coral's "
                     "supported-operations table (coral:models-intro#supported-operations); "
                     f"no compiler output tpulens has seen shows {them} mapped "
                     "(docs/edgetpu-rules.md#what-the-corpus-cannot-tell).")
    big = _largest_activation(main, tpu) if tpu else 0
    seen = _largest_seen(options.compiler)
    if seen is not None and rules.since_16(options.compiler) and big > seen:
        notes.append(f"The Edge TPU part holds a tensor of {big:,} elements, more than the "
                     f"{seen:,} seen in a successful compile with compiler "
                     f"{options.compiler.version}: compiles this large can fail with 'large "
                     "activation tensors' (docs/edgetpu-rules.md#size-limits).")
    return notes


def _largest_seen(compiler: Compiler) -> int | None:
    key = f"{compiler.key[0]}.{compiler.key[1]}"
    return corpus_evidence.LARGEST_MAPPED_ACTIVATION.get(key, (None, ""))[0]


def _largest_activation(subgraph: Subgraph, ops: list[Operator]) -> int:
    """The most elements of a tensor the ops compute on (constants aside)."""
    return max((t.num_elements for op in ops
                for t in subgraph.input_tensors(op) + subgraph.output_tensors(op)
                if not t.is_constant and not t.is_variable), default=0)


def _intermediate_cut(flow: partition.Dataflow, subgraph: Subgraph,
                      names: tuple[str, ...]) -> dict[int, int | None]:
    """Ops after the -i tensors -> the op that produced the tensor they follow."""
    if not names:
        return {}
    by_name = {t.name: t.index for t in subgraph.tensors}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise InputError(f"-i/--intermediate-tensors: no tensor named {missing[0]!r} in the "
                         "model")
    cut: dict[int, int | None] = {}
    for name in names:
        tensor = by_name[name]
        for i in sorted(partition.descendants(flow, subgraph, {tensor})):
            cut.setdefault(i, flow.producer.get(tensor))
    return cut


def analyze_model(model: Model, options: Options, what_if: bool = True,
                  memo: CheckMemo | None = None, counting: bool = False) -> ModelAnalysis:
    """Every op's verdict, the what-ifs and the model's notes. `memo` carries rule checks
    between the analyses of one model; `counting` is for what-ifs, which only count ops."""
    memo = CheckMemo() if memo is None else memo
    errors = memo.model_errors(model, options)
    if errors:
        analysis = _rejected(model, options, errors)
    else:
        verdicts, tpu_subgraphs = [], 0
        for sg in model.subgraphs:
            sg_verdicts, count = analyze_subgraph(model, sg, options, memo, counting)
            verdicts += sg_verdicts
            tpu_subgraphs += count
        analysis = ModelAnalysis(model, options, verdicts, [], tpu_subgraphs)
        if what_if:  # the what-ifs count ops; notes are for the analysis shown
            analysis.notes = model_notes(model, options, verdicts)
    if what_if:
        analysis.what_if = what_ifs(analysis, memo)
    return analysis


# ---- what-if -----------------------------------------------------------------------------

def _counts(analysis: ModelAnalysis, skip: set[tuple[int, int]] = frozenset()) -> dict:
    """Ops on the Edge TPU, on the CPU and unsure, the ops in `skip` left out."""
    tpu = cpu = low = 0
    for v in analysis.verdicts:
        if skip and (v.subgraph, v.index) in skip:
            continue
        if v.placement == TPU:
            tpu += 1
        elif v.placement == CPU:
            cpu += 1
        if v.confidence == LOW:
            low += 1
    return {"ops_tpu": tpu, "ops_cpu": cpu, "ops_low_confidence": low}


def what_ifs(analysis: ModelAnalysis, memo: CheckMemo | None = None) -> list[WhatIfCase]:
    """The outcome with other compiler options, for a model with ops off the Edge TPU: -a, an
    -i cut before the first op near a size limit, the newest compiler, and full int8
    quantization for a model with float tensors."""
    base = _counts(analysis)
    if not base["ops_cpu"] and not analysis.errors:
        return []
    model, options = analysis.model, analysis.options
    out = []

    def run(label: str, flags: tuple[str, ...], new: Options) -> None:
        other = analyze_model(model, new, what_if=False, memo=memo, counting=True)
        out.append(WhatIfCase(label, flags, **_counts(other), latency_ms=_latency(other)))

    if (options.compiler.multiple_subgraphs and not options.enable_multiple_subgraphs
            and any(v.reason_code == CUT_OFF for v in analysis.verdicts)):
        run("with -a", ("-a",), options._replace(enable_multiple_subgraphs=True))
    cut = _safe_cut(analysis)
    if cut:
        run(f"with -i {','.join(cut)}", ("-i", ",".join(cut)),
            options._replace(intermediate_tensors=options.intermediate_tensors + cut))
    newest = COMPILERS[DEFAULT_COMPILER]
    if options.compiler.key < newest.key:
        run(f"with compiler {newest.version}", ("--compiler-version", newest.version),
            options._replace(compiler=newest, min_runtime_version=None))
    floats = _float_activations(model)
    if floats:
        int8 = analyze_model(model, options._replace(as_int8=True), what_if=False,
                             memo=memo, counting=True)
        vanish = _gone_ops(model)
        blocking = Counter(_op_name(model.subgraphs[v.subgraph].operators[v.index])
                           for v in int8.verdicts if v.placement == CPU
                           and v.root_cause is None
                           and v.reason_code != CUT_OFF
                           and (v.subgraph, v.index) not in vanish)
        counts = _counts(int8, vanish)
        if counts != _counts(analysis, vanish) or _float_before_tail(analysis, floats):
            out.append(WhatIfCase("if fully int8-quantized", (), **counts,
                                  latency_ms=_latency(int8),
                                  blocking=tuple(op for op, _ in blocking.most_common())))
    return out


def _gone_ops(model: Model) -> set[tuple[int, int]]:
    """(subgraph, op) of the conversions a fully int8-quantized model does not have."""
    return {(sg.index, op.index) for sg in model.subgraphs for op in sg.operators
            if op.opcode in _CONVERSIONS and _gone_when_int8(op, sg)}


_CONVERSIONS = ("QUANTIZE", "DEQUANTIZE")


def _latency(analysis: ModelAnalysis) -> dict[str, float | None]:
    """The predicted latency per device of a what-if's placement (empty: nothing maps)."""
    found = estimate.predicted_json(analysis)
    return found["latency_ms"] if found else {}


def _op_name(op: Operator) -> str:
    return op.custom_code or op.opcode if op.opcode == "CUSTOM" else op.opcode


def _float_activations(model: Model) -> list[int]:
    """The main subgraph's float tensors that are not constants."""
    main = model.subgraphs[0] if model.subgraphs else None
    floats = rules.FLOATS
    return [t.index for t in main.tensors
            if t.dtype in floats and not t.is_constant] if main else []


def _float_before_tail(analysis: ModelAnalysis, floats: list[int]) -> bool:
    """Does a float tensor (of `floats`: _float_activations) exist that neither a CPU op at the
    model's tail nor a dead op made? Floats made there (detection post-processing, a final
    DEQUANTIZE) need no quantization fix."""
    main = analysis.model.subgraphs[0]
    tail_made = {t for v in analysis.verdicts if v.subgraph == 0
                 and (v.tail or v.placement == DROPPED)
                 for t in main.operators[v.index].outputs}
    return any(t not in tail_made for t in floats)


def _safe_cut(analysis: ModelAnalysis) -> tuple[str, ...]:
    """The -i tensors that end the Edge TPU subgraph just before its first op near a size
    limit. -i never adds ops to the subgraph; it only spares the compile the risky tail, so
    what the cut keeps maps without depending on a fitted limit."""
    if analysis.errors:
        return ()
    main = analysis.model.subgraphs[0]
    unsure = [v for v in analysis.verdicts if v.subgraph == 0 and v.placement == TPU
              and v.confidence_code == ConfidenceReason.NEAR_LIMIT]
    if not unsure:
        return ()
    first = main.operators[min(v.index for v in unsure)]
    made = partition.producers(main)
    return tuple(dict.fromkeys(main.tensors[t].name for t in first.inputs if t in made))


# ---- output ------------------------------------------------------------------------------

def analysis_of(result: ModelAnalysis, source: Source = Source.PREDICTED) -> Analysis:
    """The analysis JSON's value: every op with its verdict, the counts, the what-ifs, the
    notes and the estimate."""
    model, options = result.model, result.options
    decided = {(d.subgraph, d.index): d for d in result.verdicts}
    written: list[OpVerdict] = []
    for sg in model.subgraphs:
        tensors = written_tensors(sg.tensors)
        written += [_op_verdict(sg, op, decided[(sg.index, op.index)], tensors)
                    for op in sg.operators]
    ops = tuple(written)
    tpu = sum(1 for o in ops if o.placement == TPU)
    dropped = sum(1 for o in ops if o.placement == DROPPED)
    found = estimate.predict(result)
    summary = Summary(
        ops_total=len(ops), ops_tpu=tpu, ops_cpu=len(ops) - tpu - dropped, ops_dropped=dropped,
        ops_low_confidence=sum(1 for o in ops if o.confidence == LOW),
        tpu_subgraphs=result.tpu_subgraphs, verdict=_verdict(result, tpu, len(ops)),
        compiler_version=options.compiler.version, source=source,
        what_if=tuple(result.what_if), notes=tuple(result.notes),
        estimate=CostEstimate.of(found))
    return Analysis(
        model=ModelFile(model.path, os.path.basename(model.path), model.size_bytes,
                        ModelKind.CPU),
        source=source, compiler_version=options.compiler.version,
        options=AnalysisOptions(options.enable_multiple_subgraphs,
                                options.intermediate_tensors, options.runtime),
        summary=summary, table=op_table(ops), errors=tuple(result.errors), ops=ops)


def _op_verdict(sg: Subgraph, op: Operator, d: OpDecision,
                tensors: list[OpTensor]) -> OpVerdict:
    """An op's verdict as written; `tensors`: the subgraph's written_tensors."""
    return OpVerdict(
        sg.index, op.index, op.opcode, op.custom_code, op.version, op.options,
        *op_tensor_fields(op, tensors),
        d.placement, d.status, _REASON_CODES[d.reason_code], d.root_cause, d.explanation,
        d.detail, tuple([Culprit(*c) for c in d.culprits]), d.fix, d.confidence,
        d.confidence_reason, d.confidence_code)


# Reason codes by value, for every op written (calling ReasonCode costs a microsecond).
_REASON_CODES = {code.value: code for code in ReasonCode}


def to_json(result: ModelAnalysis, source: Source = Source.PREDICTED) -> dict:
    return analysis_of(result, source).to_json()


def _verdict(result: ModelAnalysis, tpu: int, total: int) -> Verdict:
    if result.errors:
        return Verdict.FAILS
    if tpu == total:
        return Verdict.FULL
    return Verdict.PARTIAL if tpu else Verdict.NONE


def op_table(ops: tuple[OpVerdict, ...]) -> tuple[TableRow, ...]:
    """The compiler's Operator / Count / Status rows, in order of first appearance (dropped
    ops have no row: no compiler output shows one)."""
    counts = Counter((o.opcode, o.status) for o in ops if o.placement != DROPPED)
    return tuple(TableRow(opcode, n, status) for (opcode, status), n in counts.items())


def analyze_file(path, compiler_version: str | None = None,
                 enable_multiple_subgraphs: bool = False,
                 intermediate_tensors=(), min_runtime_version: int | None = None) -> dict:
    """Read a .tflite file and return the analysis JSON (see docs/data-contracts.md)."""
    options = make_options(compiler_version, enable_multiple_subgraphs, intermediate_tensors,
                           min_runtime_version)
    return to_json(analyze_model(read_model(path), options))


def make_options(compiler_version=None, enable_multiple_subgraphs=False,
                 intermediate_tensors=(), min_runtime_version=None) -> Options:
    compiler = get_compiler(compiler_version)
    if enable_multiple_subgraphs and not compiler.multiple_subgraphs:
        raise InputError(f"{rules.FLAG_A} needs compiler 15.0 or newer, not "
                         f"{compiler.version}")
    if intermediate_tensors and not compiler.intermediate_tensors:
        raise InputError(f"{rules.FLAG_I} needs compiler 2.1 or newer, not "
                         f"{compiler.version}")
    runtimes = sorted(c.default_runtime for c in COMPILERS.values())
    if min_runtime_version is not None and not runtimes[0] <= min_runtime_version <= runtimes[-1]:
        raise InputError(f"{rules.FLAG_M} {min_runtime_version}: Edge TPU runtimes "
                         f"are {runtimes[0]} to {runtimes[-1]}")
    return Options(compiler, enable_multiple_subgraphs, tuple(intermediate_tensors),
                   min_runtime_version)
