"""The op checks: one function per constraint, its docstring the rule's text. Each receives an
OpContext and returns None when the op passes, or a short string naming the offending values.
Which check wins is CHECK_ORDER's (the package's), not the order here. Limits fitted on the corpus
carry the values they were fitted on (the largest value seen mapped and the smallest seen
refused), so an op between the two gets a low-confidence verdict; the checks read each threshold
from tables when they run, so a refit that sets tables.X is what they test against."""

from __future__ import annotations

import math

from tpulens.analyzer.model import Tensor, constant_values
from tpulens.analyzer.rules import tables
from tpulens.analyzer.rules.registry import (
    DOCUMENTED,
    INFERRED,
    OBSERVED,
    Evidence,
    Limit,
    OpContext,
    rule,
    yxz,
)
from tpulens.analyzer.rules.tables import (
    FLAG_I,
    FLAG_M,
    MAX_VERSION_BEFORE_16,
    NEWER_TABLE_RUNTIME,
    NEWEST,
    NEXT_VERSION_MEANS,
    NON_8BIT_VERSIONS,
    QUANTIZED,
    SUBSTITUTES,
    SUPPORTED_OPS,
    since_16,
)
from tpulens.analyzer.vocabulary import Status


def _shape(t: Tensor) -> str:
    return "x".join(map(str, t.shape)) or "scalar"


def _axes(values: tuple | None, rank: int) -> set[int] | None:
    return None if values is None else {a % rank for a in values} if rank else set()


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
    bad = ctx.refused  # which types an op refuses: tables.refused_tensors
    if bad:
        return ", ".join([f"{t.name!r} is {t.dtype}" for t in bad[:3]])
    return None


# ---- operator support --------------------------------------------------------------------

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


_REFUSED_VERSIONS = ", ".join(f"{op} version {v + 1}+ ({NEXT_VERSION_MEANS[op]})"
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
    limit = MAX_VERSION_BEFORE_16.get(ctx.op.opcode)
    if limit and ctx.op.version > limit and not since_16(ctx.compiler):
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
        if len(t.shape) > 3 and math.prod(t.shape[:-3]) > 1:
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




@rule(Status.UNSPECIFIED, "SOFTMAX_SIZE",
      "Keep the softmax input at most {max} values, run it on the CPU at the end, or compile "
      "with compiler 16.",
      Evidence(DOCUMENTED, "coral:ops-table-2019#Softmax", "ultralytics/ultralytics#4089"),
      ops=("SOFTMAX",), limits={"max": tables.SOFTMAX_MAX_ELEMENTS})
def softmax_size(ctx: OpContext) -> str | None:
    """Before compiler 16, Softmax takes at most {max} elements. Compiler 16 maps far larger
    ones (a detection head's [1, 4, 8400, 16] softmax is not refused)."""
    if since_16(ctx.compiler):
        return None
    n = ctx.inputs[0].num_elements if ctx.inputs else 0
    return f"{n} elements" if n > tables.SOFTMAX_MAX_ELEMENTS else None


@rule(Status.UNSPECIFIED, "PRELU_ALPHA",
      "Use keras.layers.PReLU(shared_axes=[1, 2]) so there is one alpha per channel.",
      Evidence(DOCUMENTED, "axis:artpec7-supported-ops#PReLU"), ops=("PRELU",))
def prelu_alpha_per_channel(ctx: OpContext) -> str | None:
    """PReLU's alpha must be effectively 1-D: only its innermost dimension may exceed 1."""
    alpha = ctx.input(1)
    if alpha is not None and any(d > 1 for d in alpha.shape[:-1]):
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


RESIZE_LIMIT = Limit(tables.RESIZE_MAX_UPSCALE, "upscale factor", _upscale, None, 33)


@rule(Status.UNSPECIFIED, "RESIZE_UPSCALE",
      "Upsample in steps of at most {max}x per op (or resize on the CPU at the end of the "
      "model).",
      Evidence(INFERRED, "coral:models-intro#supported-operations", "google-coral/edgetpu#31"),
      ops=("RESIZE_BILINEAR",), limits={"max": tables.RESIZE_MAX_UPSCALE,
                                        "hi": RESIZE_LIMIT.smallest_refused},
      limit=RESIZE_LIMIT)
def bilinear_resize_ratio(ctx: OpContext) -> str | None:
    """ResizeBilinear is refused when it enlarges a tensor by more than about {max}x in height
    or width. Coral documents a refusal by size that avoids precision loss, without a number;
    the corpus shows {hi}x (1x1 -> {hi}x{hi}) refused and no ResizeBilinear mapped, so the
    threshold is an estimate."""
    factor = _upscale(ctx)
    return f"upscales {factor}x" if factor > tables.RESIZE_MAX_UPSCALE else None


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


TRANSPOSE_LIMIT = Limit(tables.TRANSPOSE_MAX_ELEMENTS, "input elements", _input_elements, 69_696,
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
    return _above(_input_elements(ctx), tables.TRANSPOSE_MAX_ELEMENTS, "input elements")


RESHAPE_LIMIT = Limit(tables.RESHAPE_MAX_ELEMENTS, "elements", _elements, 408_000, 1_632_000)


@rule(Status.UNSPECIFIED, "RESHAPE_SIZE",
      "Reshape smaller tensors (e.g. per anchor or per class group), or leave the reshape to "
      f"the CPU at the end of the model; {FLAG_I} can end the Edge TPU part before it.",
      Evidence(OBSERVED),
      ops=("RESHAPE",), limits=_bounds(RESHAPE_LIMIT), limit=RESHAPE_LIMIT)
def reshape_size(ctx: OpContext) -> str | None:
    """Reshape is refused when its tensor holds more than about {max} elements (fitted: mapped
    at {lo}, refused at {hi})."""
    return _above(_elements(ctx), tables.RESHAPE_MAX_ELEMENTS, "elements")


ROW_LIMIT = Limit(tables.ROW_MAX, "row (x times channels)", _row, 174_447, 408_000)


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
    return f"{t.name!r} has shape {_shape(t)}, a row of {row:,}" if row > tables.ROW_MAX else None


