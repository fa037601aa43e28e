"""Predict the Edge TPU compiler's verdict for every op of a model, with causes and fixes."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from tpulens.analyzer import partition, rules
from tpulens.analyzer.compilers import Compiler, get_compiler
from tpulens.analyzer.model import Model, Operator, Subgraph, read_model
from tpulens.analyzer.vocabulary import Placement, Source, Status, Verdict

from tpulens.errors import InputError

SCHEMA_VERSION = 1


@dataclass
class OpVerdict:
    subgraph: int
    index: int
    placement: Placement
    status: str
    reason_code: str
    root_cause: int | None = None
    explanation: str = ""
    fix: str = ""


@dataclass(frozen=True)
class Options:
    compiler: Compiler
    enable_multiple_subgraphs: bool = False
    intermediate_tensors: tuple[str, ...] = ()
    min_runtime_version: int | None = None

    @property
    def runtime(self) -> int:
        return self.min_runtime_version or self.compiler.default_runtime


@dataclass
class Analysis:
    model: Model
    options: Options
    verdicts: list[OpVerdict]
    errors: list[str] = field(default_factory=list)
    tpu_subgraphs: int = 0


# ---- model-level failures ----------------------------------------------------------------

MODEL_NOT_QUANTIZED = "Model not quantized"
DYNAMIC_TENSORS = ("Attempting to use a delegate that only supports static-sized tensors with "
                   "a graph that has dynamic-sized tensors.")
_SIZE_INPUTS = {"RESHAPE": 1, "RESIZE_BILINEAR": 1, "RESIZE_NEAREST_NEIGHBOR": 1, "TILE": 1,
                "BROADCAST_TO": 1, "FILL": 0, "PAD": 1}


def model_errors(model: Model) -> list[str]:
    """Whole-model failures: the compiler stops before mapping anything."""
    main = model.subgraphs[0] if model.subgraphs else None
    if main is None or not main.operators:
        return ["Model has no operators"]
    errors = []
    activations = [t for t in main.tensors if not t.is_constant]
    if not any(t.dtype in rules.QUANTIZED for t in activations):
        errors.append(MODEL_NOT_QUANTIZED)
    made = partition.producers(main)
    for op in main.operators:
        slot = _SIZE_INPUTS.get(op.opcode)
        size = main.tensors[op.inputs[slot]] if slot is not None and slot < len(
            op.inputs) and op.inputs[slot] >= 0 else None
        if op.opcode == "SHAPE" or (size is not None and size.index in made):
            errors.append(f"{DYNAMIC_TENSORS} ({op.opcode} #{op.index} computes a tensor size "
                          f"at run time)")
            break
    return errors


# ---- per-op checks -----------------------------------------------------------------------

def first_failure(ctx: rules.OpContext) -> tuple[rules.Rule, str] | None:
    """The first rule the op breaks, in the order the rule table lists them."""
    for r in rules.checks_for(ctx.op.opcode):
        detail = r.check(ctx)
        if detail:
            return r, detail
    return None


def _verdict_for_failure(op: Operator, failed: rules.Rule, detail: str) -> OpVerdict:
    return OpVerdict(op.subgraph, op.index, Placement.CPU, failed.status, failed.reason_code, None,
                     f"{failed.text} Here: {detail}.", failed.fix)


def _after_partition(op: Operator, cause: Operator | None, cause_verdict: OpVerdict | None,
                     options: Options) -> OpVerdict:
    multi = ("try -a/--enable_multiple_subgraphs (experimental, compiler 15+) to map later "
             "parts as extra Edge TPU subgraphs" if options.compiler.multiple_subgraphs else
             "compiler 15+ can map later parts with -a/--enable_multiple_subgraphs")
    if cause is None:
        return OpVerdict(op.subgraph, op.index, Placement.CPU, Status.AFTER_PARTITION,
                         "AFTER_PARTITION", None,
                         "This op could run on the Edge TPU, but it lies outside the first Edge "
                         "TPU subgraph, and the compiler maps only one.",
                         f"Make the ops before it mappable, or {multi}.")
    why = cause_verdict.status if cause_verdict else "it is cut off"
    return OpVerdict(
        op.subgraph, op.index, Placement.CPU, Status.AFTER_PARTITION, "AFTER_PARTITION",
        cause.index,
        f"This op could run on the Edge TPU, but it depends on {cause.opcode} #{cause.index}, "
        f"which stays on the CPU ({why}). The compiler maps only the first Edge TPU subgraph, "
        "so everything fed by that op follows it to the CPU.",
        f"Fix the root cause, {cause.opcode} #{cause.index}: "
        f"{cause_verdict.fix if cause_verdict else ''} Or cut the model before it with "
        f"-i/--intermediate_tensors, or {multi}.")


def analyze_subgraph(model: Model, subgraph: Subgraph, options: Options) -> tuple[
        list[OpVerdict], int]:
    """Verdicts for every op of one subgraph, and the number of Edge TPU subgraphs."""
    failures: list[OpVerdict | None] = []
    for op in subgraph.operators:
        ctx = rules.OpContext(model, subgraph, op, options.compiler, options.runtime)
        failed = first_failure(ctx)
        failures.append(_verdict_for_failure(op, *failed) if failed else None)
    if subgraph.index:
        return [v for v in failures if v], 0

    ops = subgraph.operators
    cut = _intermediate_cut(subgraph, options.intermediate_tensors)
    live = partition.live_ops(subgraph)
    mappable = [op.index not in live or (f is None and op.index not in cut)
                for op, f in zip(ops, failures, strict=True)]
    epoch_of = partition.epochs(subgraph, mappable)
    tpu_epochs = sorted({e for e, m in zip(epoch_of, mappable, strict=True) if m})
    chosen = set(tpu_epochs if options.enable_multiple_subgraphs else tpu_epochs[:1])
    first = tpu_epochs[0] if tpu_epochs else -1
    is_cause = [not m and epoch_of[i] > first for i, m in enumerate(mappable)]
    causes = partition.root_causes(subgraph, is_cause)

    verdicts = []
    for op, failed, epoch in zip(ops, failures, epoch_of, strict=True):
        if op.index not in live:
            verdicts.append(OpVerdict(
                op.subgraph, op.index, Placement.TPU, Status.MAPPED, "UNUSED_RESULT", None,
                "No model output depends on this op, so the compiler drops it: it is absent "
                "from the compiled model and runs nowhere (counted with the Edge TPU ops, as "
                "it costs no CPU time).",
                "Remove the dead op from the graph before converting."))
        elif failed is not None:
            verdicts.append(failed)
        elif op.index in cut:
            verdicts.append(OpVerdict(
                op.subgraph, op.index, Placement.CPU, Status.AFTER_PARTITION, "INTERMEDIATE_TENSOR",
                cut[op.index], "This op reads a tensor named in -i/--intermediate_tensors (or "
                "a result of one), so the compiler ends the Edge TPU subgraph before it.",
                "Drop the tensor from -i/--intermediate_tensors to map this op."))
        elif epoch in chosen:
            verdicts.append(
                OpVerdict(op.subgraph, op.index, Placement.TPU, Status.MAPPED, "MAPPED"))
        else:
            cause = causes[op.index]
            verdicts.append(_after_partition(
                op, ops[cause] if cause is not None else None,
                failures[cause] if cause is not None else None, options))
    return verdicts, len(chosen)


def _intermediate_cut(subgraph: Subgraph, names: tuple[str, ...]) -> dict[int, int | None]:
    """Ops after the -i tensors -> the op that produced the tensor they follow."""
    if not names:
        return {}
    by_name = {t.name: t.index for t in subgraph.tensors}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise InputError(f"-i/--intermediate_tensors: no tensor named {missing[0]!r} in the "
                         "model")
    made = partition.producers(subgraph)
    cut: dict[int, int | None] = {}
    for name in names:
        tensor = by_name[name]
        for i in sorted(partition.descendants(subgraph, {tensor})):
            cut.setdefault(i, made.get(tensor))
    return cut


def analyze_model(model: Model, options: Options) -> Analysis:
    errors = model_errors(model)
    if errors:
        verdicts = [OpVerdict(op.subgraph, op.index, Placement.CPU, errors[0].split(" (")[0],
                              "MODEL_REJECTED", None,
                              f"The compiler rejects the whole model: {errors[0]}",
                              _model_fix(errors[0]))
                    for op in model.operators]
        return Analysis(model, options, verdicts, errors, 0)
    verdicts, tpu_subgraphs = [], 0
    for sg in model.subgraphs:
        sg_verdicts, count = analyze_subgraph(model, sg, options)
        verdicts += sg_verdicts
        tpu_subgraphs += count
    return Analysis(model, options, verdicts, [], tpu_subgraphs)


def _model_fix(error: str) -> str:
    if error.startswith(MODEL_NOT_QUANTIZED):
        return ("Use full-integer post-training quantization: optimizations=[DEFAULT], a "
                "representative_dataset, supported_ops=[TFLITE_BUILTINS_INT8], and "
                "inference_input_type/inference_output_type = tf.uint8 (or tf.int8).")
    if error.startswith(DYNAMIC_TENSORS[:30]):
        return ("Fix every shape before converting: batch size 1 (set_shape / a concrete "
                "input_signature) and no tf.shape()-driven reshapes.")
    return "Give the compiler a TFLite model with at least one operator."


# ---- output ------------------------------------------------------------------------------

def to_json(analysis: Analysis, source: Source = Source.PREDICTED) -> dict:
    model, options = analysis.model, analysis.options
    ops = []
    verdicts = {(v.subgraph, v.index): v for v in analysis.verdicts}
    for sg in model.subgraphs:
        for op in sg.operators:
            v = verdicts[(sg.index, op.index)]
            ins, outs = sg.input_tensors(op), sg.output_tensors(op)
            ops.append({
                "subgraph": sg.index, "index": op.index, "opcode": op.opcode,
                "custom_code": op.custom_code, "version": op.version, "options": op.options,
                "inputs": [t.name for t in ins], "outputs": [t.name for t in outs],
                "input_tensors": [t.to_json() for t in ins],
                "output_tensors": [t.to_json() for t in outs],
                "placement": v.placement, "status": v.status, "reason_code": v.reason_code,
                "root_cause": v.root_cause, "explanation": v.explanation, "fix": v.fix,
            })
    tpu = sum(1 for o in ops if o["placement"] == Placement.TPU)
    summary = {
        "ops_total": len(ops), "ops_tpu": tpu, "ops_cpu": len(ops) - tpu,
        "tpu_subgraphs": analysis.tpu_subgraphs, "verdict": _verdict(analysis, tpu, len(ops)),
        "compiler_version": options.compiler.version, "source": source,
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "model": {"path": model.path, "name": os.path.basename(model.path),
                  "size_bytes": model.size_bytes, "kind": "cpu"},
        "source": source,
        "compiler_version": options.compiler.version,
        "options": {"enable_multiple_subgraphs": options.enable_multiple_subgraphs,
                    "intermediate_tensors": list(options.intermediate_tensors),
                    "min_runtime_version": options.runtime},
        "summary": summary,
        "table": op_table(ops),
        "errors": analysis.errors,
        "ops": ops,
    }


def _verdict(analysis: Analysis, tpu: int, total: int) -> str:
    if analysis.errors:
        return Verdict.FAILS
    if tpu == total:
        return Verdict.FULL
    return Verdict.PARTIAL if tpu else Verdict.NONE


def op_table(ops: list[dict]) -> list[dict]:
    """The compiler's Operator / Count / Status rows, in order of first appearance."""
    counts = Counter((o["opcode"], o["status"]) for o in ops)
    return [{"operator": k[0], "count": n, "status": k[1]} for k, n in counts.items()]


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
        raise InputError(f"-a/--enable_multiple_subgraphs needs compiler 15.0 or newer, not "
                         f"{compiler.version}")
    if intermediate_tensors and not compiler.intermediate_tensors:
        raise InputError(f"-i/--intermediate_tensors needs compiler 2.1 or newer, not "
                         f"{compiler.version}")
    if min_runtime_version is not None and not 10 <= min_runtime_version <= 14:
        raise InputError(f"-m/--min_runtime_version {min_runtime_version}: Edge TPU runtimes "
                         "are 10 to 14")
    return Options(compiler, enable_multiple_subgraphs, tuple(intermediate_tensors),
                   min_runtime_version)
