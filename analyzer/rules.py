"""The Edge TPU rule table: one function per constraint, its docstring the rule's text.

Each check receives an OpContext and returns None when the op passes, or a short string naming
the offending values. The @rule decorator records the compiler's status string, a stable reason
code and a concrete fix, so the same table drives the analysis, the "Supported ops" reference
and one unit test per rule (the Arm Vela pattern). Sources: docs EDGETPU_RULES.md §1-§4.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property

from tpulens.analyzer.compilers import Compiler
from tpulens.analyzer.model import Model, Operator, Subgraph, Tensor, constant_values
from tpulens.analyzer.vocabulary import Status

QUANTIZED = frozenset({"UINT8", "INT8"})


@dataclass(frozen=True)
class OpSupport:
    """A row of Coral's supported-ops table."""

    coral_name: str
    min_runtime: int  # oldest Edge TPU runtime that runs it
    note: str = ""


# Coral's table (EDGETPU_RULES.md §3). Runtime 10 = "All".
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
    "UNIDIRECTIONAL_SEQUENCE_LSTM": OpSupport("LSTM", 14, "unidirectional only"),
    "MAXIMUM": OpSupport("Maximum", 10),
    "MINIMUM": OpSupport("Minimum", 10),
    "MAX_POOL_2D": OpSupport("MaxPool2d", 10),
    "MEAN": OpSupport("Mean", 10),
    "MUL": OpSupport("Mul", 10),
    "PACK": OpSupport("Pack", 13),
    "PAD": OpSupport("Pad", 10),
    "PRELU": OpSupport("PReLU", 13),
    "QUANTIZE": OpSupport("Quantize", 13),
    "REDUCE_MAX": OpSupport("ReduceMax", 14),
    "REDUCE_MIN": OpSupport("ReduceMin", 14),
    "RELU": OpSupport("ReLU", 10),
    "RELU6": OpSupport("ReLU6", 10),
    "RELU_N1_TO_1": OpSupport("ReLUN1To1", 10),
    "RESHAPE": OpSupport("Reshape", 10),
    "RESIZE_BILINEAR": OpSupport("ResizeBilinear", 10),
    "RESIZE_NEAREST_NEIGHBOR": OpSupport("ResizeNearestNeighbor", 10),
    "RSQRT": OpSupport("Rsqrt", 14),
    "SLICE": OpSupport("Slice", 10),
    "SOFTMAX": OpSupport("Softmax", 10),
    "SPACE_TO_DEPTH": OpSupport("SpaceToDepth", 10),
    "SPLIT": OpSupport("Split", 10),
    "SQUARED_DIFFERENCE": OpSupport("SquaredDifference", 14),
    "SQUEEZE": OpSupport("Squeeze", 10),
    "STRIDED_SLICE": OpSupport("StridedSlice", 10),
    "SUB": OpSupport("Sub", 10),
    "SUM": OpSupport("Sum", 13),
    "TANH": OpSupport("Tanh", 10),
    "TILE": OpSupport("Tile", 14, "not in Coral's table, but mapped by compiler 16"),
    "TRANSPOSE": OpSupport("Transpose", 14),
    "TRANSPOSE_CONV": OpSupport("TransposeConv", 13),
}

# Ops that carry a float/int64 tensor by nature: the compiler reports their data type.
DTYPE_FIRST = frozenset({"DEQUANTIZE", "ARG_MAX", "ARG_MIN", "CAST", "CUSTOM"})


@dataclass(frozen=True)
class OpContext:
    """What a rule may look at: the op, its tensors, the model and the compiler settings."""

    model: Model
    subgraph: Subgraph
    op: Operator
    compiler: Compiler
    runtime: int

    @cached_property
    def inputs(self) -> list[Tensor]:
        return self.subgraph.input_tensors(self.op)

    @cached_property
    def outputs(self) -> list[Tensor]:
        return self.subgraph.output_tensors(self.op)

    @cached_property
    def activations(self) -> list[Tensor]:
        """Non-constant, non-state inputs and all outputs: what the TPU computes on."""
        ins = [t for t in self.inputs if not t.is_constant and not t.is_variable]
        return ins + [t for t in self.outputs if not t.is_variable]

    def input(self, i: int) -> Tensor | None:
        ids = self.op.inputs
        return self.subgraph.tensors[ids[i]] if i < len(ids) and ids[i] >= 0 else None

    def values(self, i: int) -> tuple | None:
        tensor = self.input(i)
        return constant_values(self.model, tensor) if tensor else None


@dataclass(frozen=True)
class Rule:
    name: str
    text: str
    status: str
    reason_code: str
    fix: str
    ops: frozenset[str] | None  # None: every op
    check: Callable[[OpContext], str | None]

    def applies_to(self, opcode: str) -> bool:
        return self.ops is None or opcode in self.ops


RULES: list[Rule] = []


def rule(status: str, reason_code: str, fix: str, ops: tuple[str, ...] | None = None):
    """Register a check; order of registration is the order the compiler's checks win."""

    def register(check: Callable[[OpContext], str | None]):
        RULES.append(Rule(check.__name__, " ".join((check.__doc__ or "").split()), status,
                          reason_code, fix, frozenset(ops) if ops else None, check))
        return check

    return register


def _shape(t: Tensor) -> str:
    return "x".join(map(str, t.shape)) or "scalar"


def _axes(values: tuple | None, rank: int) -> set[int] | None:
    return None if values is None else {a % rank for a in values} if rank else set()


# ---- model structure ---------------------------------------------------------------------

@rule(Status.AFTER_PARTITION, "SECOND_SUBGRAPH",
      "Avoid control flow (tf.cond / tf.while_loop) in the exported function, or unroll it, so "
      "the model has a single subgraph.")
def main_subgraph_only(ctx: OpContext) -> str | None:
    """Only the model's main (first) subgraph is compiled; ops in other subgraphs (bodies of
    WHILE/IF control flow) run on the CPU."""
    if ctx.subgraph.index:
        return f"op is in subgraph {ctx.subgraph.index}"
    return None


# ---- data types --------------------------------------------------------------------------

@rule(Status.UNSPECIFIED, "FLOAT_INPUT_QUANTIZE",
      "Convert with integer I/O: converter.inference_input_type = tf.uint8 (or tf.int8) and "
      "converter.inference_output_type likewise, with a representative_dataset.",
      ops=("QUANTIZE",))
def quantize_from_integer(ctx: OpContext) -> str | None:
    """A QUANTIZE op is mapped only when it converts between 8-bit types (uint8 <-> int8); the
    float-to-int8 quantization at a float model input stays on the CPU."""
    src = ctx.inputs[0] if ctx.inputs else None
    if src is not None and src.dtype not in QUANTIZED:
        return f"input {src.name!r} is {src.dtype}"
    return None


@rule(Status.UNSUPPORTED_DTYPE, "UNSUPPORTED_DTYPE",
      "Quantize the whole model to 8 bits: converter.optimizations = [tf.lite.Optimize.DEFAULT], "
      "a representative_dataset, target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]"
      " and integer input/output types. Ops that must produce float or int64 (DEQUANTIZE, "
      "ARG_MAX, detection post-processing) belong at the end of the model, where they cost "
      "little on the CPU.")
def eight_bit_tensors(ctx: OpContext) -> str | None:
    """Tensors must be 8-bit fixed point (int8 or uint8). Int32 constants (biases, shapes,
    axes) are fine; float32, float16, int16 and int64 activations are not."""
    allowed = QUANTIZED | {"INT32"} if ctx.op.opcode not in SUPPORTED_OPS else QUANTIZED
    bad = [t for t in ctx.activations if t.dtype not in allowed]
    if ctx.op.opcode not in SUPPORTED_OPS and ctx.op.opcode not in DTYPE_FIRST and not any(
            t.dtype.startswith("FLOAT") or t.dtype == "INT64" for t in bad):
        return None  # an unknown op on 8-bit data: "Operation not supported" says it better
    if bad:
        return ", ".join(f"{t.name!r} is {t.dtype}" for t in bad[:3])
    return None


# ---- operator support --------------------------------------------------------------------

@rule(Status.UNSUPPORTED_OP, "UNSUPPORTED_OP",
      "Replace the op with a supported one (LeakyReLU/HardSwish -> ReLU/ReLU6 or PReLU with "
      "shared_axes=[1, 2]; TRANSPOSE -> keep NHWC or compile with compiler 16), or move it to "
      "the end of the model so only the tail runs on the CPU.")
def supported_operation(ctx: OpContext) -> str | None:
    """The op must be in Coral's list of supported operations."""
    if ctx.op.opcode not in SUPPORTED_OPS:
        name = ctx.op.custom_code if ctx.op.opcode == "CUSTOM" else ctx.op.opcode
        return f"{name} is not an Edge TPU operation"
    return None


@rule(Status.UNSUPPORTED_OP, "RUNTIME_TOO_OLD",
      "Target a newer runtime: drop -m/--min_runtime_version or raise it, and use a compiler "
      "that supports the op (compiler 16 targets runtime 14).")
def op_in_target_runtime(ctx: OpContext) -> str | None:
    """The op must exist in the Edge TPU runtime the model is compiled for (-m): ExpandDims,
    Pack, Quantize, Sum, TransposeConv and PReLU need runtime 13; LSTM, ReduceMax/Min, Rsqrt,
    SquaredDifference and Transpose need runtime 14 (compiler 16)."""
    need = SUPPORTED_OPS[ctx.op.opcode].min_runtime
    if need > ctx.runtime:
        return f"needs runtime {need}, compiling for runtime {ctx.runtime}"
    return None


@rule(Status.UNSUPPORTED_VERSION, "OP_VERSION",
      "Convert with TensorFlow defaults that keep the older op version (for Resize: "
      "half_pixel_centers=False; for Dense: keep_num_dims=False / flatten first), or compile "
      "with Edge TPU compiler 16.")
def op_version(ctx: OpContext) -> str | None:
    """The op version must be one the compiler maps: compilers before 16 refuse RESIZE_*
    version 3 (half_pixel_centers) and FULLY_CONNECTED version 5+ (keep_num_dims)."""
    limit = _max_version(ctx.op.opcode, ctx.compiler)
    if limit and ctx.op.version > limit:
        return f"version {ctx.op.version}, compiler {ctx.compiler.version} maps up to {limit}"
    return None


def _max_version(opcode: str, compiler: Compiler) -> int | None:
    if compiler.key >= (16, 0):
        return None
    if opcode in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        return 2
    if opcode == "FULLY_CONNECTED":
        return 4
    return None


# ---- shapes ------------------------------------------------------------------------------

@rule(Status.UNSUPPORTED_RANK, "UNSUPPORTED_RANK",
      "Use batch size 1 (e.g. model.input.set_shape((1,) + shape[1:]) before converting) and "
      "keep tensors at most 3 dimensions beyond a batch of 1; avoid TimeDistributed, 5-D "
      "reshapes and dilated convolutions lowered to SPACE_TO_BATCH_ND.")
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
      ops=("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"))
def constant_weights(ctx: OpContext) -> str | None:
    """Filters and biases must be constant at compile time (FULLY_CONNECTED/CONV whose filter
    is an activation cannot be mapped)."""
    index = 2 if ctx.op.opcode == "TRANSPOSE_CONV" else 1
    filt = ctx.input(index)
    if filt is not None and not filt.is_constant:
        return f"filter {filt.name!r} is computed at run time"
    bias = ctx.input(3 if ctx.op.opcode == "TRANSPOSE_CONV" else 2)
    if bias is not None and not bias.is_constant:
        return f"bias {bias.name!r} is computed at run time"
    return None


@rule(Status.OUTPUT_2D, "OUTPUT_NOT_1D",
      "Run with batch size 1 so the layer's output is 1-D (set the batch dimension to 1 "
      "before converting), or flatten before the Dense layer.",
      ops=("FULLY_CONNECTED", "SOFTMAX"))
def one_dimensional_output(ctx: OpContext) -> str | None:
    """A fully-connected or softmax layer must produce a 1-D output (batch 1)."""
    for t in ctx.outputs:
        if math.prod(t.shape[:-1]) > 1:
            return f"output {t.name!r} has shape {_shape(t)}"
    return None


# ---- per-op constraints ------------------------------------------------------------------

_UNSPECIFIED_FIX = ("Change the layer so it meets the constraint, or let it run on the CPU "
                    "at the end of the model; -a (compiler 15+) maps later parts too.")


@rule(Status.UNSPECIFIED, "FUSED_ACTIVATION", "Apply the activation as a separate layer.",
      ops=("AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION"))
def no_fused_activation(ctx: OpContext) -> str | None:
    """Pooling and concatenation must not have a fused activation function."""
    act = ctx.op.options.get("fused_activation_function", 0)
    return f"fused activation {act}" if act else None


@rule(Status.UNSPECIFIED, "DILATION",
      "Use the same dilation rate in both spatial dimensions (and none on runtimes before 13).",
      ops=("DEPTHWISE_CONV_2D",))
def equal_dilation(ctx: OpContext) -> str | None:
    """Depthwise convolutions need the same dilation in x and y, and on runtimes before 13
    must not be dilated at all. (Regular convolutions with unequal dilation, such as 1-D
    temporal convolutions, were seen mapped by compiler 16.)"""
    h = ctx.op.options.get("dilation_h_factor", 1)
    w = ctx.op.options.get("dilation_w_factor", 1)
    if h != w:
        return f"dilation {h}x{w}"
    if ctx.runtime < 13 and h > 1:
        return f"dilation {h} on runtime {ctx.runtime}"
    return None


@rule(Status.UNSPECIFIED, "STRIDED_SLICE",
      "Use a plain slice: all strides 1, no ellipsis and no new-axis masks.",
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
      "Concatenate activations only; for zero padding use a PAD op.", ops=("CONCATENATION",))
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


@rule(Status.UNSPECIFIED, "REDUCE_AXES",
      "Reduce over height/width only, or over channels when their count is a multiple of 4; "
      "never over the batch.", ops=("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN"))
def reduction_axes(ctx: OpContext) -> str | None:
    """Reductions never run over the batch dimension; a reduction over channels needs a
    channel count divisible by 4; on runtimes before 13 Mean reduces over x and/or y only."""
    src = ctx.inputs[0] if ctx.inputs else None
    rank = len(src.shape) if src else 0
    axes = _axes(ctx.values(1), rank)
    if not src or axes is None:
        return None
    if rank == 4 and 0 in axes and src.shape[0] > 1:
        return f"reduces over the batch (axes {sorted(axes)})"
    last = rank - 1
    if ctx.runtime < 13 and rank == 4 and not axes <= {1, 2}:
        return f"axes {sorted(axes)} on runtime {ctx.runtime} (only height/width)"
    if last in axes and src.shape[last] % 4:
        return f"reduces over {src.shape[last]} channels (not a multiple of 4)"
    return None


@rule(Status.UNSPECIFIED, "PAD_CHANNELS",
      "On runtimes before 13 pad height/width only (or compile for runtime 13+).", ops=("PAD",))
def pad_dimensions(ctx: OpContext) -> str | None:
    """On runtimes before 13 Pad pads x and/or y only. (Padding the batch makes a tensor with
    more than 3 dimensions above 1, which the rank rule already refuses.)"""
    pads = ctx.values(1)
    if ctx.runtime >= 13 or not pads or len(pads) != 8:
        return None
    padded = {i // 2 for i, p in enumerate(pads) if p}
    if not padded <= {1, 2}:
        return f"pads dimensions {sorted(padded)} on runtime {ctx.runtime} (only height/width)"
    return None


@rule(Status.UNSPECIFIED, "SPLIT_BATCH", "Split along a non-batch axis.", ops=("SPLIT",))
def split_not_along_batch(ctx: OpContext) -> str | None:
    """Split must not work along the batch axis. (Pack along the batch makes a tensor with
    more than 3 dimensions above 1, which the rank rule already refuses.)"""
    axis = ctx.values(0)
    src = ctx.input(1)
    if axis and src is not None and len(src.shape) == 4 and axis[0] % 4 == 0:
        return "splits along the batch axis"
    return None


@rule(Status.UNSPECIFIED, "SQUEEZE_RELAYOUT",
      "On runtimes before 13, squeeze only leading dimensions of size 1.", ops=("SQUEEZE",))
def squeeze_without_relayout(ctx: OpContext) -> str | None:
    """On runtimes before 13, Squeeze maps only when no relayout is needed: the squeezed
    dimensions of size 1 must all come before the first dimension larger than 1."""
    if ctx.runtime >= 13 or not ctx.inputs:
        return None
    shape = ctx.inputs[0].shape
    if not shape:
        return None
    first_big = next((i for i, d in enumerate(shape) if d > 1), len(shape))
    dims = ctx.op.options.get("squeeze_dims") or [i for i, d in enumerate(shape) if d == 1]
    late = [d % len(shape) for d in dims if d % len(shape) > first_big]
    return f"squeezes dimension(s) {late} after a dimension > 1" if late else None


@rule(Status.UNSPECIFIED, "SOFTMAX_SIZE",
      "Keep the softmax input at most 16,000 values, or run it on the CPU at the end.",
      ops=("SOFTMAX",))
def softmax_size(ctx: OpContext) -> str | None:
    """Softmax takes at most 16,000 elements."""
    n = ctx.inputs[0].num_elements if ctx.inputs else 0
    return f"{n} elements" if n > 16000 else None


@rule(Status.UNSPECIFIED, "PRELU_ALPHA",
      "Use keras.layers.PReLU(shared_axes=[1, 2]) so there is one alpha per channel.",
      ops=("PRELU",))
def prelu_alpha_per_channel(ctx: OpContext) -> str | None:
    """PReLU's alpha must be effectively 1-D: only its innermost dimension may exceed 1."""
    alpha = ctx.input(1)
    if alpha is not None and sum(1 for d in alpha.shape[:-1] if d > 1):
        return f"alpha has shape {_shape(alpha)}"
    return None


@rule(Status.UNSPECIFIED, "WEIGHTS_FORMAT", "Convert with the default weights format.",
      ops=("FULLY_CONNECTED",))
def default_weights_format(ctx: OpContext) -> str | None:
    """FullyConnected supports only the default weights format (not shuffled 4x16)."""
    fmt = ctx.op.options.get("weights_format", 0)
    return f"weights format {fmt}" if fmt else None


@rule(Status.UNSPECIFIED, "RESIZE_UPSCALE",
      "Upsample in steps of at most 2x per op (or resize on the CPU at the end of the model).",
      ops=("RESIZE_BILINEAR",))
def bilinear_resize_ratio(ctx: OpContext) -> str | None:
    """ResizeBilinear is refused when it enlarges a tensor by a large factor (the compiler
    avoids the precision loss: 1x1 -> 33x33 and 33x33 -> 513x513 stay on the CPU, 2x maps)."""
    if not ctx.inputs or not ctx.outputs:
        return None
    src, dst = ctx.inputs[0].shape, ctx.outputs[0].shape
    if len(src) != 4 or len(dst) != 4:
        return None
    ratios = [dst[i] / src[i] for i in (1, 2) if src[i]]
    if any(r > _MAX_BILINEAR_RATIO for r in ratios):
        return f"{src[1]}x{src[2]} -> {dst[1]}x{dst[2]}"
    return None


_MAX_BILINEAR_RATIO = 8


@cache
def checks_for(opcode: str) -> tuple[Rule, ...]:
    """The rules that apply to an op type, in check order (cached: called once per op)."""
    return tuple(r for r in RULES if r.applies_to(opcode))
