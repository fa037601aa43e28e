"""The Edge TPU rule table: one function per constraint, its docstring the rule's text.

Each op check receives an OpContext and returns None when the op passes, or a short string
naming the offending values. The @rule decorator records the compiler's status string, a stable
reason code, a concrete fix and the rule's evidence (documented, observed or inferred, with
citations that resolve from docs/edgetpu-rules.md). Model-level refusals (@model_rule), the
verdicts the partitioner gives (partition_verdict) and the fix advice chosen by an op's place in
the model (@advice) live in the same registry, so one table drives the analysis, `tpulens
rules`, the site's supported-ops page and one test per rule (the Arm Vela pattern).

Limits are named constants formatted into the rule text. Limits fitted on the corpus carry the
values they were fitted on (the largest value seen mapped and the smallest seen refused), so an
op between the two gets a low-confidence verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache

from tpulens.analyzer.compilers import COMPILERS, DEFAULT_COMPILER, Compiler
from tpulens.analyzer.corpus_citations import SEEN_IN
from tpulens.analyzer.model import Model, Operator, Subgraph, Tensor, constant_values
from tpulens.analyzer.partition import Dataflow, dataflow
from tpulens.analyzer.vocabulary import EvidenceKind, Status

QUANTIZED = frozenset({"UINT8", "INT8"})
NEWEST = COMPILERS[DEFAULT_COMPILER]
# The compiler that maps what older ones refuse (float models, computed FULLY_CONNECTED weights,
# 2-D outputs, large softmaxes, newer op versions): rules compare against its key.
COMPILER_16 = COMPILERS["16.0"]


def since_16(compiler: Compiler) -> bool:
    return compiler.key >= COMPILER_16.key
DOCUMENTED, OBSERVED, INFERRED = EvidenceKind


@dataclass(frozen=True)
class OpSupport:
    """A row of Coral's supported-ops table."""

    coral_name: str
    min_runtime: int  # oldest Edge TPU runtime that runs it
    note: str = ""
    runtime_documented: bool = True  # False: the runtime number is inferred, not read


# Coral's table (docs/edgetpu-rules.md, "Supported operations"). Runtime 10 = "All".
SUPPORTED_OPS = {
    "ADD": OpSupport("Add", 10),
    "AVERAGE_POOL_2D": OpSupport("AveragePool2d", 10),
    "CONCATENATION": OpSupport("Concatenation", 10),
    "CONV_2D": OpSupport("Conv2d", 10),
    "DEPTHWISE_CONV_2D": OpSupport("DepthwiseConv2d", 10),
    "EXPAND_DIMS": OpSupport("ExpandDims", 13),
    "FULLY_CONNECTED": OpSupport("FullyConnected", 10),
    "L2_NORMALIZATION": OpSupport("L2Normalization", 10),
    "LOGISTIC": OpSupport("Logistic", 10),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": OpSupport("LSTM", 14, "unidirectional only", False),
    "MAXIMUM": OpSupport("Maximum", 10),
    "MINIMUM": OpSupport("Minimum", 10),
    "MAX_POOL_2D": OpSupport("MaxPool2d", 10),
    "MEAN": OpSupport("Mean", 10),
    "MUL": OpSupport("Mul", 10),
    "PACK": OpSupport("Pack", 13),
    "PAD": OpSupport("Pad", 10),
    "PRELU": OpSupport("PReLU", 13, runtime_documented=False),
    "QUANTIZE": OpSupport("Quantize", 12, "Coral's table says runtime 13, but compiler 2.0 "
                          "(runtime 12) calls it otherwise supported and maps it", False),
    "REDUCE_MAX": OpSupport("ReduceMax", 14, runtime_documented=False),
    "REDUCE_MIN": OpSupport("ReduceMin", 14, runtime_documented=False),
    "RELU": OpSupport("ReLU", 10),
    "RELU6": OpSupport("ReLU6", 10),
    "RELU_N1_TO_1": OpSupport("ReLUN1To1", 10),
    "RESHAPE": OpSupport("Reshape", 10),
    "RESIZE_BILINEAR": OpSupport("ResizeBilinear", 10),
    "RESIZE_NEAREST_NEIGHBOR": OpSupport("ResizeNearestNeighbor", 10),
    "RSQRT": OpSupport("Rsqrt", 14, runtime_documented=False),
    "SLICE": OpSupport("Slice", 10),
    "SOFTMAX": OpSupport("Softmax", 10),
    "SPACE_TO_DEPTH": OpSupport("SpaceToDepth", 10),
    "SPLIT": OpSupport("Split", 10),
    "SQUARED_DIFFERENCE": OpSupport("SquaredDifference", 14, runtime_documented=False),
    "SQUEEZE": OpSupport("Squeeze", 10),
    "STRIDED_SLICE": OpSupport("StridedSlice", 10),
    "SUB": OpSupport("Sub", 10),
    "SUM": OpSupport("Sum", 13),
    "TANH": OpSupport("Tanh", 10),
    "TILE": OpSupport("Tile", 14, "not in Coral's table, but mapped by compiler 16", False),
    "TRANSPOSE": OpSupport("Transpose", 14),
    "TRANSPOSE_CONV": OpSupport("TransposeConv", 13),
}

# Op-code versions TFLite gives only to kernels for types the Edge TPU never runs (int16,
# int64, int32, bool, string, uint32, complex), from tensorflow/lite/tools/versioning/
# op_version.cc. The converter gives every op of one type the highest version any of them
# needs, so one int64 ADD makes every ADD of the model version 4.
NON_8BIT_VERSIONS = {
    "ADD": (3, 4, 5), "SUB": (4, 5), "MUL": (4, 5, 6, 7), "CONCATENATION": (3, 4),
    "AVERAGE_POOL_2D": (3,), "MAX_POOL_2D": (3,), "LOGISTIC": (3,), "TANH": (3,),
    "SOFTMAX": (3,), "MEAN": (3,), "REDUCE_MAX": (3,), "REDUCE_MIN": (3,), "RELU": (3,),
    "RELU6": (3,), "RSQRT": (3,), "PAD": (3,), "TRANSPOSE": (3, 5), "SPLIT": (3, 4),
    "RESIZE_BILINEAR": (4,), "RESIZE_NEAREST_NEIGHBOR": (4,), "PACK": (3, 4),
    "STRIDED_SLICE": (3, 5, 7), "MAXIMUM": (4,), "MINIMUM": (4,),
}


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


class memo:
    """A property computed on first use and kept in the instance (what cached_property does,
    without the lock Python 3.11 takes on every first use: rules read these on every op)."""

    def __init__(self, compute: Callable):
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.compute(obj)
        return value


@dataclass(frozen=True)
class OpContext:
    """What a rule may look at: the op, its tensors, the model and the compiler settings.
    `as_int8` answers "what if the model were fully int8-quantized": float tensors count as
    int8."""

    model: Model
    subgraph: Subgraph
    op: Operator
    compiler: Compiler
    runtime: int
    as_int8: bool = False
    folded: frozenset[int] = frozenset()  # tensors that are constants once the model is int8

    @memo
    def inputs(self) -> list[Tensor]:
        return self.subgraph.input_tensors(self.op)

    @memo
    def outputs(self) -> list[Tensor]:
        return self.subgraph.output_tensors(self.op)

    @memo
    def activations(self) -> list[Tensor]:
        """Non-constant, non-state inputs and all outputs: what the TPU computes on."""
        ins = [t for t in self.inputs if not self.constant(t) and not t.is_variable]
        return ins + [t for t in self.outputs if not t.is_variable]

    @memo
    def row(self) -> tuple[int, Tensor | None]:
        """The longest row (x times channels) of the tensors computed on, and its tensor."""
        rows = [(x * z, t) for t in self.activations for _, x, z in [yxz(t.shape)]]
        return max(rows, key=lambda r: r[0], default=(0, None))

    def constant(self, tensor: Tensor) -> bool:
        return tensor.is_constant or tensor.index in self.folded

    def dtype(self, tensor: Tensor) -> str:
        if self.as_int8 and tensor.dtype.startswith("FLOAT"):
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


@dataclass(frozen=True)
class Doubt:
    """Why a verdict is unsure: its code and the sentence shown."""

    code: ConfidenceReason
    text: str


@dataclass(frozen=True)
class Limit:
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


RULES: list[Rule] = []


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
    RULES.append(entry)
    return entry


def rule(status: str, reason_code: str, fix: str, evidence: Evidence,
         ops: tuple[str, ...] | None = None, limits: dict | None = None,
         limit: Limit | None = None, fixes: dict[str, str] | None = None,
         partition_first: bool = False):
    """Register an op check; order of registration is the order the compiler's checks win.
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
    """Register a whole-model check: (Model, Compiler) -> detail or None. `message` is the
    compiler's own error line; `limits` are formatted into the docstring."""

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
    first advice that answers replaces the rule's own fix; the docstring says when it
    applies."""

    def register(choose: Callable[[OpContext, Rule, bool], str | None]):
        _register(Scope.ADVICE, choose, choose.__name__, choose.__doc__ or "", "",
                  reason_code, "", evidence)
        return choose

    return register


def _shape(t: Tensor) -> str:
    return "x".join(map(str, t.shape)) or "scalar"


def _axes(values: tuple | None, rank: int) -> set[int] | None:
    return None if values is None else {a % rank for a in values} if rank else set()


def yxz(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The three innermost dimensions as the Edge TPU lays a tensor out: y, x, z (channels),
    with 1s in front of tensors of rank below 3."""
    y, x, z = ((1, 1, 1) + tuple(shape))[-3:]
    return y, x, z


# Flags as `tpulens analyze` spells them (the compiler's are -a/--enable_multiple_subgraphs…).
FLAG_A = "-a/--enable-multiple-subgraphs"
FLAG_I = "-i/--intermediate-tensors"
FLAG_M = "-m/--min-runtime-version"

# ---- model structure ---------------------------------------------------------------------

@rule(Status.AFTER_PARTITION, "SECOND_SUBGRAPH",
      "Avoid control flow (tf.cond / tf.while_loop) in the exported function, or unroll it, so "
      "the model has a single subgraph.",
      Evidence(INFERRED, "coral:models-intro#requirements"))
def main_subgraph_only(ctx: OpContext) -> str | None:
    """Only the model's main (first) subgraph is compiled; ops in other subgraphs (bodies of
    WHILE/IF control flow) run on the CPU."""
    if ctx.subgraph.index:
        return f"op is in subgraph {ctx.subgraph.index}"
    return None


# ---- data types --------------------------------------------------------------------------

def refused_dtype(opcode: str, dtype: str, output: bool) -> bool:
    """Does an op of this type computing on a tensor of this type get "Operation is working
    on an unsupported data type"? The data type is checked before the op type: an op the
    Edge TPU does not run is refused for its data type when it reads anything but 8-bit data,
    and as not supported when it reads 8-bit data and writes 8-bit or int32 results (a top-k
    of int8 scores, whose indices are int32; a gather reading int32 or int64 indices is
    refused for its data type)."""
    if dtype in QUANTIZED:
        return False
    return not (output and dtype == "INT32" and opcode not in SUPPORTED_OPS)


@rule(Status.UNSPECIFIED, "FLOAT_INPUT_QUANTIZE",
      "Convert with integer I/O: converter.inference_input_type = tf.uint8 (or tf.int8) and "
      "converter.inference_output_type likewise, with a representative_dataset.",
      Evidence(OBSERVED, "google-coral/edgetpu#13"),
      ops=("QUANTIZE",), partition_first=True)
def quantize_from_integer(ctx: OpContext) -> str | None:
    """A QUANTIZE op is mapped only when it converts between 8-bit types (uint8 <-> int8); the
    float-to-int8 quantization at a float model input stays on the CPU. The compiler calls
    it otherwise supported: one that an earlier CPU op cuts off (in a float tail) gets the
    partition's status."""
    src = ctx.inputs[0] if ctx.inputs else None
    if src is not None and ctx.dtype(src) not in QUANTIZED:
        return f"input {src.name!r} is {src.dtype}"
    return None


@rule(Status.UNSUPPORTED_DTYPE, "UNSUPPORTED_DTYPE",
      "Quantize the whole model to 8 bits: converter.optimizations = [tf.lite.Optimize.DEFAULT], "
      "a representative_dataset, target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]"
      " and integer input/output types.",
      Evidence(DOCUMENTED, "coral:models-intro#requirements", "google-coral/edgetpu#659"))
def eight_bit_tensors(ctx: OpContext) -> str | None:
    """Tensors must be 8-bit fixed point (int8 or uint8). Int32 constants (biases, shapes,
    axes) are fine; float32, float16, int16, int64 and bool activations are not, whatever the
    op."""
    made = ctx.op.outputs
    bad = [t for t in ctx.activations
           if refused_dtype(ctx.op.opcode, ctx.dtype(t), t.index in made)]
    if bad:
        return ", ".join(f"{t.name!r} is {t.dtype}" for t in bad[:3])
    return None


# ---- operator support --------------------------------------------------------------------

# What to use instead of a TFLite builtin the Edge TPU does not run: the fix an op refused as
# "Operation not supported" gets (ops not listed get the rule's general fix).
SUBSTITUTES = {
    "LEAKY_RELU": "Use ReLU or ReLU6 instead, or PReLU with shared_axes=[1, 2] (runtime 13+).",
    "HARD_SWISH": "Use ReLU6 (or ReLU) instead and fine-tune.",
    "GELU": "Use ReLU, or approximate it as x * sigmoid(1.702 * x) with MUL and LOGISTIC.",
    "ELU": "Use ReLU, or PReLU (runtime 13+).",
    "SIN": "When its input is fixed (positional encodings, fixed angles), compute the result "
           "once and store it as a constant; otherwise compute it on the CPU and feed it in as "
           "a model input.",
    "EXP": "Use the op that contains it: SOFTMAX for normalised exponentials, LOGISTIC or TANH "
           "for sigmoid-like curves.",
    "LOG": "Take the logarithm on the CPU, after the model.",
    "LOG_SOFTMAX": "Use SOFTMAX and take the logarithm on the CPU, after the model.",
    "SQRT": "Compute x * RSQRT(x) (RSQRT needs runtime 14), or fold the root into a later "
            "scale.",
    "SQUARE": "Use MUL(x, x) (or SQUARED_DIFFERENCE against zero).",
    "POW": "For a small integer exponent multiply (MUL(x, x) squares); for x ** -0.5 use "
           "RSQRT (runtime 14).",
    "DIV": "Divide by a constant as a multiplication by its reciprocal (MUL); normalise with "
           "L2_NORMALIZATION or RSQRT.",
    "NEG": "Multiply by a constant -1 (MUL) or subtract from zero (SUB).",
    "ABS": "Use MAXIMUM(x, -x), with -x a MUL by a constant -1.",
    "BATCH_MATMUL": "Reshape to 2-D and use a Dense layer (FULLY_CONNECTED) with a constant "
                    "weight; compiler 16 also maps FULLY_CONNECTED whose weight is computed at "
                    "run time.",
    "GATHER": "With constant indices, take the parts with SLICE / STRIDED_SLICE (and "
              "CONCATENATION); otherwise do the lookup on the CPU.",
    "DEPTH_TO_SPACE": "Upsample with TRANSPOSE_CONV, or RESIZE_NEAREST_NEIGHBOR followed by a "
                      "convolution.",
    "MIRROR_PAD": "Pad with zeros (PAD, or padding='same' in the convolution).",
    "SPLIT_V": "Split into equal parts (SPLIT), or take each part with SLICE / STRIDED_SLICE.",
    "UNPACK": "Use SPLIT followed by RESHAPE, or a SLICE per part.",
    "SELECT_V2": "Write the choice as arithmetic (mask * a + (1 - mask) * b with MUL, ADD and "
                 "SUB), or as MAXIMUM / MINIMUM for a clamp.",
    "TOPK_V2": "It is post-processing: export the model without it (raw scores out) and run it "
               "in your own code after the model.",
    "FLOOR_MOD": "It is index arithmetic: compute it once as a constant when its inputs are "
                 "fixed, or after the model on the CPU.",
}
SUBSTITUTES |= {"COS": SUBSTITUTES["SIN"], "GATHER_ND": SUBSTITUTES["GATHER"],
                "SELECT": SUBSTITUTES["SELECT_V2"], "FLOOR_DIV": SUBSTITUTES["FLOOR_MOD"],
                "NON_MAX_SUPPRESSION_V4": SUBSTITUTES["TOPK_V2"],
                "NON_MAX_SUPPRESSION_V5": SUBSTITUTES["TOPK_V2"]}
_TO_THE_END = "Or move it to the end of the model so only the tail runs on the CPU."


@rule(Status.UNSUPPORTED_OP, "UNSUPPORTED_OP",
      "Replace the op with supported ones (see the supported operations), or move it to the "
      "end of the model so only the tail runs on the CPU.",
      Evidence(DOCUMENTED, "coral:models-intro#supported-operations", "google-coral/edgetpu#272",
               "google-coral/edgetpu#242"),
      fixes={op: f"{use} {_TO_THE_END}" for op, use in SUBSTITUTES.items()})
def supported_operation(ctx: OpContext) -> str | None:
    """The op must be in Coral's list of supported operations."""
    if ctx.op.opcode not in SUPPORTED_OPS:
        name = ctx.op.custom_code if ctx.op.opcode == "CUSTOM" else ctx.op.opcode
        return f"{name} is not an Edge TPU operation"
    return None


def _ops_by_runtime() -> str:
    """"ExpandDims, … need runtime 13; …", read from SUPPORTED_OPS."""
    by_runtime: dict[int, list[str]] = {}
    for support in SUPPORTED_OPS.values():
        if support.min_runtime > min(s.min_runtime for s in SUPPORTED_OPS.values()):
            by_runtime.setdefault(support.min_runtime, []).append(support.coral_name)
    return "; ".join(f"{', '.join(sorted(names))} need runtime {runtime}"
                     for runtime, names in sorted(by_runtime.items()))


@rule(Status.UNSUPPORTED_OP, "RUNTIME_TOO_OLD",
      f"Target a newer runtime: drop {FLAG_M} or raise it, and use a compiler that supports "
      f"the op (compiler {NEWEST.version} targets runtime {NEWEST.default_runtime}).",
      Evidence(DOCUMENTED, "coral:edgetpu-changes", "libedgetpu:runtime_version.h",
               "google-coral/edgetpu#193", "google-coral/edgetpu#225", "google-coral/edgetpu#13"),
      limits={"needs": _ops_by_runtime()})
def op_in_target_runtime(ctx: OpContext) -> str | None:
    """The op must exist in the Edge TPU runtime the model is compiled for (-m): {needs}."""
    need = SUPPORTED_OPS[ctx.op.opcode].min_runtime
    if need > ctx.runtime:
        return f"needs runtime {need}, compiling for runtime {ctx.runtime}"
    return None


# The newest op version compilers before 16 map, and what the next version brought.
MAX_VERSION_BEFORE_16 = {"RESIZE_BILINEAR": 2, "RESIZE_NEAREST_NEIGHBOR": 2, "FULLY_CONNECTED": 4}
_NEXT_VERSION_MEANS = {"RESIZE_BILINEAR": "half_pixel_centers",
                       "RESIZE_NEAREST_NEIGHBOR": "half_pixel_centers",
                       "FULLY_CONNECTED": "keep_num_dims"}
_REFUSED_VERSIONS = ", ".join(f"{op} version {v + 1}+ ({_NEXT_VERSION_MEANS[op]})"
                              for op, v in MAX_VERSION_BEFORE_16.items())


@rule(Status.UNSUPPORTED_VERSION, "OP_VERSION",
      "Convert with TensorFlow defaults that keep the older op version (for Resize: "
      "half_pixel_centers=False; for Dense: keep_num_dims=False / flatten first), or compile "
      "with Edge TPU compiler 16.",
      Evidence(OBSERVED, "google-coral/edgetpu#206", "google-coral/edgetpu#396",
               "tensorflow/tensorflow#42024"),
      limits={"refused": _REFUSED_VERSIONS})
def op_version(ctx: OpContext) -> str | None:
    """The op version must be one the compiler maps: compilers before 16 refuse {refused}."""
    limit = MAX_VERSION_BEFORE_16.get(ctx.op.opcode) if not since_16(ctx.compiler) else None
    if limit and ctx.op.version > limit:
        return f"version {ctx.op.version}, compiler {ctx.compiler.version} maps up to {limit}"
    return None


@rule(Status.UNSUPPORTED_VERSION, "NON_8BIT_KERNEL_VERSION",
      "Keep every op of this type 8-bit: an int16/int64/int32 op of the same type (often an "
      "index or shape computation left in the graph) raises the version of all of them. Move "
      "that computation out of the model, or make it 8-bit.",
      Evidence(OBSERVED, "tflite:op_version.cc"),
      ops=tuple(NON_8BIT_VERSIONS))
def kernel_version(ctx: OpContext) -> str | None:
    """The op code's version must be one TFLite gives to 8-bit kernels. The converter gives
    all ops of one type the highest version any of them needs, so a single int64 ADD (version
    4) keeps every ADD of the model off the Edge TPU, 8-bit ones included."""
    if ctx.op.version in NON_8BIT_VERSIONS[ctx.op.opcode]:
        return f"{ctx.op.opcode} version {ctx.op.version} is a version for non-8-bit kernels"
    return None


# ---- shapes ------------------------------------------------------------------------------

@rule(Status.UNSUPPORTED_RANK, "UNSUPPORTED_RANK",
      "Use batch size 1 (e.g. model.input.set_shape((1,) + shape[1:]) before converting) and "
      "keep tensors at most 3 dimensions beyond a batch of 1; avoid TimeDistributed, 5-D "
      "reshapes and dilated convolutions lowered to SPACE_TO_BATCH_ND.",
      Evidence(DOCUMENTED, "coral:models-intro#requirements", "google-coral/edgetpu#30",
               "google-coral/edgetpu#75"))
def three_innermost_dims(ctx: OpContext) -> str | None:
    """Tensors may have any rank, but only the 3 innermost dimensions may be larger than 1
    (so the batch must be 1)."""
    for t in ctx.activations:
        if math.prod(t.shape[:-3]) > 1:
            return f"{t.name!r} has shape {_shape(t)}"
    return None


@rule(Status.NON_CONST_PARAM, "NON_CONST_PARAM",
      "Make weights constants of the graph: use a Dense/Conv layer instead of a matmul of two "
      "activations, and freeze variables before converting.",
      Evidence(DOCUMENTED, "coral:models-intro#requirements", "google-coral/edgetpu#25"),
      ops=("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"))
def constant_weights(ctx: OpContext) -> str | None:
    """Filters and biases must be constant at compile time. Compiler 16 maps a
    FULLY_CONNECTED whose filter is computed at run time (attention's matmuls); convolutions
    still need constant filters."""
    if ctx.op.opcode == "FULLY_CONNECTED" and since_16(ctx.compiler):
        return None
    index = 2 if ctx.op.opcode == "TRANSPOSE_CONV" else 1
    filt = ctx.input(index)
    if filt is not None and not ctx.constant(filt):
        return f"filter {filt.name!r} is computed at run time"
    bias = ctx.input(3 if ctx.op.opcode == "TRANSPOSE_CONV" else 2)
    if bias is not None and not ctx.constant(bias):
        return f"bias {bias.name!r} is computed at run time"
    return None


@rule(Status.OUTPUT_2D, "OUTPUT_NOT_1D",
      "Run with batch size 1 so the layer's output is 1-D (set the batch dimension to 1 "
      "before converting), flatten before the Dense layer, or compile with compiler 16.",
      Evidence(DOCUMENTED, "coral:ops-table-2019#FullyConnected"),
      ops=("FULLY_CONNECTED", "SOFTMAX"))
def one_dimensional_output(ctx: OpContext) -> str | None:
    """Before compiler 16, a fully-connected or softmax layer must produce a 1-D output
    (batch 1). Compiler 16 maps them with 2-D and N-D outputs."""
    if since_16(ctx.compiler):
        return None
    for t in ctx.outputs:
        if math.prod(t.shape[:-1]) > 1:
            return f"output {t.name!r} has shape {_shape(t)}"
    return None


# ---- per-op constraints ------------------------------------------------------------------

@rule(Status.UNSPECIFIED, "FUSED_ACTIVATION", "Apply the activation as a separate layer.",
      Evidence(DOCUMENTED, "coral:models-intro#supported-operations"),
      ops=("AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION"))
def no_fused_activation(ctx: OpContext) -> str | None:
    """Pooling and concatenation must not have a fused activation function."""
    act = ctx.op.options.get("fused_activation_function", 0)
    return f"fused activation {act}" if act else None


@rule(Status.UNSPECIFIED, "DILATION", "Use the same dilation rate in both spatial dimensions.",
      Evidence(DOCUMENTED, "axis:artpec7-supported-ops#DepthwiseConv2d"),
      ops=("DEPTHWISE_CONV_2D",))
def equal_dilation(ctx: OpContext) -> str | None:
    """Depthwise convolutions need the same dilation in x and y. (Regular convolutions with
    unequal dilation, such as 1-D temporal convolutions, were seen mapped by compiler 16.)"""
    h = ctx.op.options.get("dilation_h_factor", 1)
    w = ctx.op.options.get("dilation_w_factor", 1)
    return f"dilation {h}x{w}" if h != w else None


# Coral's 2019 table (runtimes up to 12) limits some ops more than its current one does; no
# document says which runtime lifted those limits. They are taken as lifted with the runtime
# that brought new ops (inferred), so the rules that keep them are inferred too.
NEWER_TABLE_RUNTIME = 13
_OLD_RUNTIME = {"rt": NEWER_TABLE_RUNTIME}


@rule(Status.UNSPECIFIED, "DILATION_OLD_RUNTIME",
      "Do not dilate depthwise convolutions, or compile for runtime {rt}+ (" + FLAG_M + ").",
      Evidence(INFERRED, "coral:models-intro#supported-operations"),
      ops=("DEPTHWISE_CONV_2D",), limits=_OLD_RUNTIME)
def no_dilation_on_old_runtimes(ctx: OpContext) -> str | None:
    """On runtimes before {rt} depthwise convolutions must not be dilated at all."""
    h = ctx.op.options.get("dilation_h_factor", 1)
    if ctx.runtime < NEWER_TABLE_RUNTIME and h > 1:
        return f"dilation {h} on runtime {ctx.runtime}"
    return None


@rule(Status.UNSPECIFIED, "STRIDED_SLICE",
      "Use a plain slice: all strides 1, no ellipsis and no new-axis masks.",
      Evidence(DOCUMENTED, "coral:ops-table-2019#StridedSlice"),
      ops=("STRIDED_SLICE",))
def plain_strided_slice(ctx: OpContext) -> str | None:
    """StridedSlice needs every stride equal to 1, ellipsis_mask == 0 and new_axis_mask == 0."""
    strides = ctx.values(3)
    if strides and any(s != 1 for s in strides):
        return f"strides {list(strides)}"
    for mask in ("ellipsis_mask", "new_axis_mask"):
        if ctx.op.options.get(mask, 0):
            return f"{mask} {ctx.op.options[mask]}"
    return None


@rule(Status.UNSPECIFIED, "CONST_CONCAT_INPUT",
      "Concatenate activations only; for zero padding use a PAD op.",
      Evidence(DOCUMENTED, "coral:models-intro#supported-operations"), ops=("CONCATENATION",))
def concat_constant_is_zero_pad(ctx: OpContext) -> str | None:
    """If a Concatenation input is a constant tensor, there must be exactly 2 inputs and the
    constant must be all zeros (it then acts as zero padding)."""
    consts = [t for t in ctx.inputs if t.is_constant]
    if not consts:
        return None
    if len(ctx.inputs) != 2:
        return f"{len(consts)} constant inputs among {len(ctx.inputs)}"
    values = constant_values(ctx.model, consts[0], limit=1 << 20)
    zero = consts[0].quantization.zero_point[0] if consts[0].quantization else 0
    if values is None or any(v != zero for v in values):
        return f"constant input {consts[0].name!r} is not all zeros"
    return None


@rule(Status.UNSPECIFIED, "REDUCE_AXES_OLD_RUNTIME",
      "Reduce over height/width only, or compile for runtime {rt}+ (" + FLAG_M + ").",
      Evidence(INFERRED, "coral:ops-table-2019#Mean", "axis:artpec7-supported-ops#Mean"),
      ops=("MEAN",), limits=_OLD_RUNTIME)
def reduce_height_width_on_old_runtimes(ctx: OpContext) -> str | None:
    """On runtimes before {rt} Mean reduces over x and/or y only. (Coral's 2019 table
    documents the limit, its current table does not have it; the runtime that lifted it is
    inferred.)"""
    src = ctx.inputs[0] if ctx.inputs else None
    rank = len(src.shape) if src else 0
    axes = _axes(ctx.values(1), rank)
    if ctx.runtime < NEWER_TABLE_RUNTIME and rank == 4 and axes is not None \
            and not axes <= {1, 2}:
        return f"axes {sorted(axes)} on runtime {ctx.runtime} (only height/width)"
    return None


@rule(Status.UNSPECIFIED, "REDUCE_AXES",
      "Reduce over height/width only, or over channels when their count is a multiple of 4; "
      "never over the batch.",
      Evidence(INFERRED, "coral:models-intro#supported-operations"),
      ops=("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN"))
def reduction_axes(ctx: OpContext) -> str | None:
    """Reductions never run over the batch dimension, and a reduction over channels needs a
    channel count divisible by 4."""
    src = ctx.inputs[0] if ctx.inputs else None
    rank = len(src.shape) if src else 0
    axes = _axes(ctx.values(1), rank)
    if not src or axes is None:
        return None
    if rank == 4 and 0 in axes and src.shape[0] > 1:
        return f"reduces over the batch (axes {sorted(axes)})"
    last = rank - 1
    if last in axes and src.shape[last] % 4:
        return f"reduces over {src.shape[last]} channels (not a multiple of 4)"
    return None


@rule(Status.UNSPECIFIED, "PAD_CHANNELS",
      "On runtimes before {rt} pad height/width only (or compile for runtime {rt}+, "
      + FLAG_M + ").",
      Evidence(INFERRED, "coral:ops-table-2019#Pad", "axis:artpec7-supported-ops#Pad"),
      ops=("PAD",), limits=_OLD_RUNTIME)
def pad_dimensions(ctx: OpContext) -> str | None:
    """On runtimes before {rt} Pad pads x and/or y only. (Coral's 2019 table documents the
    limit, its current table does not have it; the runtime that lifted it is inferred. Padding
    the batch makes a tensor with more than 3 dimensions above 1, which the rank rule already
    refuses.)"""
    pads = ctx.values(1)
    if ctx.runtime >= NEWER_TABLE_RUNTIME or not pads or len(pads) != 8:
        return None
    padded = {i // 2 for i, p in enumerate(pads) if p}
    if not padded <= {1, 2}:
        return f"pads dimensions {sorted(padded)} on runtime {ctx.runtime} (only height/width)"
    return None


@rule(Status.UNSPECIFIED, "SPLIT_FIRST_AXIS",
      "Split along another axis (e.g. reshape the heads into the channels first), or use "
      "STRIDED_SLICE ops for the pieces.",
      Evidence(OBSERVED),
      ops=("SPLIT",))
def split_not_along_first_axis(ctx: OpContext) -> str | None:
    """Split must not work along the first axis (the batch for 4-D tensors, the heads of an
    attention block for 3-D ones) when that axis is larger than 1."""
    axis = ctx.values(0)
    src = ctx.input(1)
    if axis and src is not None and src.shape and axis[0] % len(src.shape) == 0 \
            and src.shape[0] > 1:
        return f"splits {_shape(src)} along its first axis"
    return None


@rule(Status.UNSPECIFIED, "SQUEEZE_RELAYOUT",
      "On runtimes before {rt}, squeeze only leading dimensions of size 1.",
      Evidence(INFERRED, "coral:ops-table-2019#Squeeze"), ops=("SQUEEZE",),
      limits=_OLD_RUNTIME)
def squeeze_without_relayout(ctx: OpContext) -> str | None:
    """On runtimes before {rt}, Squeeze maps only when no relayout is needed: the squeezed
    dimensions of size 1 must all come before the first dimension larger than 1. (Coral's 2019
    table documents the limit; the runtime that lifted it is inferred.)"""
    if ctx.runtime >= NEWER_TABLE_RUNTIME or not ctx.inputs:
        return None
    shape = ctx.inputs[0].shape
    if not shape:
        return None
    first_big = next((i for i, d in enumerate(shape) if d > 1), len(shape))
    dims = ctx.op.options.get("squeeze_dims") or [i for i, d in enumerate(shape) if d == 1]
    late = [d % len(shape) for d in dims if d % len(shape) > first_big]
    return f"squeezes dimension(s) {late} after a dimension > 1" if late else None


SOFTMAX_MAX_ELEMENTS = 16_000


@rule(Status.UNSPECIFIED, "SOFTMAX_SIZE",
      "Keep the softmax input at most {max} values, run it on the CPU at the end, or compile "
      "with compiler 16.",
      Evidence(DOCUMENTED, "coral:ops-table-2019#Softmax", "ultralytics/ultralytics#4089"),
      ops=("SOFTMAX",), limits={"max": SOFTMAX_MAX_ELEMENTS})
def softmax_size(ctx: OpContext) -> str | None:
    """Before compiler 16, Softmax takes at most {max} elements. Compiler 16 maps far larger
    ones (a detection head's [1, 4, 8400, 16] softmax is not refused)."""
    if since_16(ctx.compiler):
        return None
    n = ctx.inputs[0].num_elements if ctx.inputs else 0
    return f"{n} elements" if n > SOFTMAX_MAX_ELEMENTS else None


@rule(Status.UNSPECIFIED, "PRELU_ALPHA",
      "Use keras.layers.PReLU(shared_axes=[1, 2]) so there is one alpha per channel.",
      Evidence(DOCUMENTED, "axis:artpec7-supported-ops#PReLU"), ops=("PRELU",))
def prelu_alpha_per_channel(ctx: OpContext) -> str | None:
    """PReLU's alpha must be effectively 1-D: only its innermost dimension may exceed 1."""
    alpha = ctx.input(1)
    if alpha is not None and sum(1 for d in alpha.shape[:-1] if d > 1):
        return f"alpha has shape {_shape(alpha)}"
    return None


@rule(Status.UNSPECIFIED, "WEIGHTS_FORMAT", "Convert with the default weights format.",
      Evidence(DOCUMENTED, "coral:models-intro#supported-operations"),
      ops=("FULLY_CONNECTED",))
def default_weights_format(ctx: OpContext) -> str | None:
    """FullyConnected supports only the default weights format (not shuffled 4x16)."""
    fmt = ctx.op.options.get("weights_format", 0)
    return f"weights format {fmt}" if fmt else None


def _upscale(ctx: OpContext) -> int:
    if not ctx.inputs or not ctx.outputs:
        return 0
    src, dst = yxz(ctx.inputs[0].shape), yxz(ctx.outputs[0].shape)
    return max((math.ceil(d / s) for s, d in zip(src[:2], dst[:2], strict=True) if s), default=0)


RESIZE_MAX_UPSCALE = 8
RESIZE_LIMIT = Limit(RESIZE_MAX_UPSCALE, "upscale factor", _upscale, None, 33)


@rule(Status.UNSPECIFIED, "RESIZE_UPSCALE",
      "Upsample in steps of at most {max}x per op (or resize on the CPU at the end of the "
      "model).",
      Evidence(INFERRED, "coral:models-intro#supported-operations", "google-coral/edgetpu#31"),
      ops=("RESIZE_BILINEAR",), limits={"max": RESIZE_MAX_UPSCALE,
                                        "hi": RESIZE_LIMIT.smallest_refused},
      limit=RESIZE_LIMIT)
def bilinear_resize_ratio(ctx: OpContext) -> str | None:
    """ResizeBilinear is refused when it enlarges a tensor by more than about {max}x in height
    or width. Coral documents a refusal by size that avoids precision loss, without a number;
    the corpus shows {hi}x (1x1 -> {hi}x{hi}) refused and no ResizeBilinear mapped, so the
    threshold is an estimate."""
    factor = _upscale(ctx)
    return f"upscales {factor}x" if factor > RESIZE_MAX_UPSCALE else None


# ---- size limits fitted on the corpus (see docs/edgetpu-rules.md, "Size limits") ----------

def _row(ctx: OpContext) -> int:
    return ctx.row[0]


def _input_elements(ctx: OpContext) -> int:
    return ctx.inputs[0].num_elements if ctx.inputs else 0


def _elements(ctx: OpContext) -> int:
    return max((t.num_elements for t in ctx.activations), default=0)


def _bounds(limit: Limit) -> dict:
    """The numbers a fitted rule's text shows: its threshold and the corpus bounds."""
    return {"max": limit.threshold, "lo": limit.largest_mapped, "hi": limit.smallest_refused}


def _above(value: int, threshold: int, what: str) -> str | None:
    return f"{what} {value:,}" if value > threshold else None


TRANSPOSE_MAX_ELEMENTS = 90_000
TRANSPOSE_LIMIT = Limit(TRANSPOSE_MAX_ELEMENTS, "input elements", _input_elements, 69_696,
                        112_896)


@rule(Status.UNSPECIFIED, "TRANSPOSE_SIZE",
      "Keep the tensor small where it is transposed (transpose per output level before "
      "concatenating), leave the transpose to the CPU at the end, or cut the model before it "
      f"with {FLAG_I}.",
      Evidence(OBSERVED, "ultralytics/ultralytics#4089", "google-coral/edgetpu#433"),
      ops=("TRANSPOSE",), limits=_bounds(TRANSPOSE_LIMIT), limit=TRANSPOSE_LIMIT)
def transpose_size(ctx: OpContext) -> str | None:
    """Transpose is refused when its input holds more than about {max} elements (fitted: mapped
    up to {lo}, refused from {hi}; a detector's compiler log shows four refused, one mapped)."""
    return _above(_input_elements(ctx), TRANSPOSE_MAX_ELEMENTS, "input elements")


RESHAPE_MAX_ELEMENTS = 800_000
RESHAPE_LIMIT = Limit(RESHAPE_MAX_ELEMENTS, "elements", _elements, 408_000, 1_632_000)


@rule(Status.UNSPECIFIED, "RESHAPE_SIZE",
      "Reshape smaller tensors (e.g. per anchor or per class group), or leave the reshape to "
      f"the CPU at the end of the model; {FLAG_I} can end the Edge TPU part before it.",
      Evidence(OBSERVED),
      ops=("RESHAPE",), limits=_bounds(RESHAPE_LIMIT), limit=RESHAPE_LIMIT)
def reshape_size(ctx: OpContext) -> str | None:
    """Reshape is refused when its tensor holds more than about {max} elements (fitted: mapped
    at {lo}, refused at {hi})."""
    return _above(_elements(ctx), RESHAPE_MAX_ELEMENTS, "elements")


ROW_MAX = 200_000
ROW_LIMIT = Limit(ROW_MAX, "row (x times channels)", _row, 174_447, 408_000)


@rule(Status.UNSPECIFIED, "ROW_SIZE",
      "Keep the last two dimensions small: split a long [1, N, C] detection output per level "
      "and concatenate on the CPU, or cut the model before it with " + FLAG_I + ".",
      Evidence(OBSERVED, "ultralytics/ultralytics#4719", "ultralytics/ultralytics#4089"),
      limits=_bounds(ROW_LIMIT), limit=ROW_LIMIT)
def row_size(ctx: OpContext) -> str | None:
    """No tensor may have a row (its two innermost dimensions, x times channels) longer than
    about {max} values (fitted: mapped up to {lo}, refused from {hi}; the ultralytics #4719 log
    puts the limit below 230,400)."""
    row, t = ctx.row
    return f"{t.name!r} has shape {_shape(t)}, a row of {row:,}" if row > ROW_MAX else None


# ---- whole-model refusals ----------------------------------------------------------------

@model_rule("Model has no operators", "EMPTY_MODEL",
            "Give the compiler a TFLite model with at least one operator.",
            Evidence(INFERRED, "coral:models-intro#requirements"))
def has_operators(model: Model, compiler: Compiler) -> str | None:
    """The main subgraph must hold at least one operator."""
    main = model.subgraphs[0] if model.subgraphs else None
    return None if main is not None and main.operators else "no operators"


@model_rule("Model not quantized", "MODEL_NOT_QUANTIZED",
            "Use full-integer post-training quantization: optimizations=[DEFAULT], a "
            "representative_dataset, supported_ops=[TFLITE_BUILTINS_INT8], and "
            "inference_input_type/inference_output_type = tf.uint8 (or tf.int8); or compile "
            "with compiler 16, which accepts the model and runs it on the CPU.",
            Evidence(OBSERVED, "google-coral/edgetpu#313", "google-coral/edgetpu#438"))
def model_quantized(model: Model, compiler: Compiler) -> str | None:
    """Compilers before 16 reject a model with no 8-bit activation (a float, float16 or
    weights-only quantized model) as "Model not quantized". Compiler 16 accepts it and leaves
    every float op on the CPU with its own status."""
    if since_16(compiler):
        return None
    activations = [t for t in model.subgraphs[0].tensors if not t.is_constant]
    if not any(t.dtype in QUANTIZED for t in activations):
        return "no 8-bit activation tensor"
    return None


# The first op-code version each compiler's own TFLite was seen unable to parse: the whole
# compile fails ("Didn't find op for builtin opcode …"). Older compilers know fewer versions, so
# a version one compiler cannot parse, no older one can either.
UNPARSED_VERSIONS = {
    (16, 0): {"TRANSPOSE_CONV": 4, "CONV_2D": 6, "QUANTIZE": 3, "EXP": 2},
    (15, 0): {"REVERSE_V2": 3, "RSQRT": 2, "DEPTH_TO_SPACE": 2},
    (14, 1): {"CONV_2D": 5},
    (2, 1): {"TRANSPOSE_CONV": 3},
    (2, 0): {"RESIZE_BILINEAR": 3},
}


def _unparsed_seen() -> str:
    """"compiler 16 with TRANSPOSE_CONV 4 or CONV_2D 6; …", read from UNPARSED_VERSIONS."""
    def versions(ops: dict) -> str:
        items = [f"{op} {v}" for op, v in ops.items()]
        return f"{', '.join(items[:-1])} or {items[-1]}" if len(items) > 1 else items[0]

    return "; ".join(f"compiler {major}.{minor} with {versions(ops)}"
                     for (major, minor), ops in UNPARSED_VERSIONS.items())


@cache
def first_unparsed_version(opcode: str, compiler: Compiler) -> int | None:
    found = [v[opcode] for key, v in UNPARSED_VERSIONS.items()
             if key >= compiler.key and opcode in v]
    return min(found, default=None)


@model_rule("Model could not be parsed", "OP_VERSION_UNKNOWN",
            "Convert with an older TensorFlow (2.8 for compiler 16) or with "
            "converter.experimental_new_converter = False, so the op keeps an older version; or "
            "rebuild the layer from other ops.",
            Evidence(OBSERVED, "google-coral/edgetpu#845", "google-coral/edgetpu#631",
                     "google-coral/edgetpu#879", "google-coral/edgetpu#340",
                     "google-coral/edgetpu#384", "google-coral/edgetpu#386",
                     "google-coral/edgetpu#358", "google-coral/edgetpu#45",
                     "tensorflow/tensorflow#43288"),
            limits={"seen": _unparsed_seen()})
def parsable_op_versions(model: Model, compiler: Compiler) -> str | None:
    """Every op-code version must be one the compiler's own TFLite knows; a newer one (from a
    newer TensorFlow) stops the compile before anything is mapped. Seen: {seen}."""
    for op in model.subgraphs[0].operators:
        first = first_unparsed_version(op.opcode, compiler)
        if first is not None and op.version >= first:
            return (f"ERROR: Didn't find op for builtin opcode '{op.opcode}' version "
                    f"'{op.version}' (op #{op.index})")
    return None


DYNAMIC_TENSORS = ("Attempting to use a delegate that only supports static-sized tensors with "
                   "a graph that has dynamic-sized tensors.")
_SIZE_INPUTS = {"RESHAPE": 1, "RESIZE_BILINEAR": 1, "RESIZE_NEAREST_NEIGHBOR": 1, "TILE": 1,
                "BROADCAST_TO": 1, "FILL": 0, "PAD": 1}


@model_rule(DYNAMIC_TENSORS, "DYNAMIC_TENSORS",
            "Fix every shape before converting: batch size 1 (set_shape / a concrete "
            "input_signature) and no tf.shape()-driven reshapes.",
            Evidence(OBSERVED, "google-coral/edgetpu#829", "tensorflow/tensorflow#51467"))
def static_shapes(model: Model, compiler: Compiler) -> str | None:
    """Tensor sizes must be known at compile time: an op that computes a size at run time
    (SHAPE, or a reshape/resize/pad whose size input is computed) makes the compile fail."""
    main = model.subgraphs[0]
    made = {t for op in main.operators for t in op.outputs}
    for op in main.operators:
        slot = _SIZE_INPUTS.get(op.opcode)
        computed = slot is not None and slot < len(op.inputs) and op.inputs[slot] in made
        if op.opcode == "SHAPE" or computed:
            return f"{op.opcode} #{op.index} computes a tensor size at run time"
    return None


GRAPH_CYCLE = "Op graph has a cycle"


@model_rule(GRAPH_CYCLE, "GRAPH_CYCLE",
            "Re-export the model: a converter never writes ops that wait on their own results.",
            Evidence(INFERRED, "tflite:graph_info.cc"))
def acyclic(model: Model, compiler: Compiler) -> str | None:
    """Every op must be able to run once its inputs are ready; ops that wait, directly or
    through others, on their own results can never run, and no delegate can take them."""
    stuck = flow_of(model.subgraphs[0]).stuck
    if not stuck:
        return None
    shown = ", ".join(f"#{i}" for i in stuck[:5]) + (" …" if len(stuck) > 5 else "")
    return f"{len(stuck)} op(s) can never run: {shown}"


_FLOWS: dict[int, tuple[Subgraph, Dataflow]] = {}


def flow_of(subgraph: Subgraph) -> Dataflow:
    """The subgraph's dataflow, computed once for the cycle check and the partition (the last
    few subgraphs are kept; the subgraph is held so its id stays its own)."""
    kept = _FLOWS.get(id(subgraph))
    if kept is None or kept[0] is not subgraph:
        if len(_FLOWS) >= 8:
            _FLOWS.pop(next(iter(_FLOWS)))
        kept = _FLOWS[id(subgraph)] = (subgraph, dataflow(subgraph))
    return kept[1]


# ---- verdicts of the partitioner ---------------------------------------------------------

AFTER_PARTITION = partition_verdict(
    "after_partition", Status.AFTER_PARTITION, "AFTER_PARTITION",
    "An op that could run on the Edge TPU but lies outside the first Edge TPU subgraph (a CPU "
    "op comes before it on some path) stays on the CPU: without -a the compiler maps one Edge "
    "TPU subgraph only.",
    f"Fix the op that cuts the subgraph, or try {FLAG_A} (compiler 15+) to map later parts "
    "as extra Edge TPU subgraphs.",
    Evidence(DOCUMENTED, "coral:models-intro#compiling", "google-coral/edgetpu#461",
             "google-coral/edgetpu#30"))
INTERMEDIATE_TENSOR = partition_verdict(
    "intermediate_tensor", Status.AFTER_PARTITION, "INTERMEDIATE_TENSOR",
    f"An op that reads a tensor named in {FLAG_I} (or a result of one) runs on the CPU: the "
    "compiler ends the Edge TPU subgraph at those tensors.",
    f"Drop the tensor from {FLAG_I} to map this op.",
    Evidence(DOCUMENTED, "coral:compiler#intermediate-tensors", "google-coral/edgetpu#530"))
DROPPED = partition_verdict(
    "dropped", "", "DROPPED",
    "An op whose results reach no model output does no useful work; no compiler output shows "
    "whether the compiler keeps it, so it is reported as dropped, not as mapped.",
    "Remove the dead op from the graph before converting.",
    Evidence(INFERRED, "tflite:graph_info.cc"))


# ---- fix advice by context -----------------------------------------------------------------

@advice("ADVICE_CUSTOM_OP", Evidence(DOCUMENTED, "coral:models-intro#supported-operations",
                                     "google-coral/edgetpu#515"))
def custom_op_advice(ctx: OpContext, failed: Rule, at_tail: bool) -> str | None:
    """A custom op other than the Edge TPU's own is never mapped: the advice is about custom
    ops, wherever it sits."""
    if ctx.op.opcode != "CUSTOM":
        return None
    name = ctx.op.custom_code or "custom op"
    where = ("It sits at the end of the model, where CPU work costs least: nothing needs "
             "fixing." if at_tail else "Move it to the end of the model so everything before "
             "it can map, or rebuild it from builtin ops.")
    return f"{name} is a custom op, which the Edge TPU never runs. {where}"


@advice("ADVICE_CPU_TAIL", Evidence(DOCUMENTED, "google-coral/edgetpu#515",
                                    "google-coral/edgetpu#659"))
def cpu_tail_advice(ctx: OpContext, failed: Rule, at_tail: bool) -> str | None:
    """An op of an 8-bit model refused for its data type or type (the final DEQUANTIZE,
    ARG_MAX, detection post-processing) that feeds only the model's outputs, through other CPU
    ops, belongs on the CPU at the end: nothing needs fixing unless you want it mapped."""
    if not at_tail or failed.reason_code not in ("UNSUPPORTED_DTYPE", "UNSUPPORTED_OP"):
        return None
    if not any(t.dtype in QUANTIZED for t in ctx.inputs):
        return None  # a float op: the model itself is not quantized
    if ctx.op.opcode == "DEQUANTIZE" and set(ctx.op.outputs) & set(ctx.subgraph.outputs):
        only_if = ("If you want integer outputs instead, convert with "
                   "converter.inference_output_type = tf.uint8 (or tf.int8) and the converter "
                   "leaves this op out.")
    elif ctx.op.opcode == "DEQUANTIZE":
        only_if = "It turns 8-bit values into the floats the CPU ops after it need."
    else:
        only_if = (f"{ctx.op.opcode} has no Edge TPU version; keep it last so that only it "
                   "runs on the CPU.")
    return ("This op belongs on the CPU at the end of an 8-bit model (it produces float or "
            "integer results, or post-processes them); it costs little there and nothing "
            f"needs fixing. {only_if}")


@cache
def checks_for(opcode: str) -> tuple[Rule, ...]:
    """The op rules that apply to an op type, in check order (cached: called once per op)."""
    return tuple(r for r in RULES if r.scope == Scope.OP and r.applies_to(opcode))


@cache
def of_scope(scope: Scope) -> tuple[Rule, ...]:
    return tuple(r for r in RULES if r.scope == scope)
