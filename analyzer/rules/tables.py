"""The data the rules read: Coral's supported-ops table, the op versions and types the Edge TPU
refuses, what to use instead of an op it never runs, and the size limits, each with its
evidence. Rules format these numbers into their text, so the reference shows what the checks
use."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from tpulens.analyzer.compilers import COMPILERS, DEFAULT_COMPILER, Compiler
from tpulens.analyzer.model import Tensor
from tpulens.analyzer.schema import TENSOR_TYPES

QUANTIZED = frozenset({"UINT8", "INT8"})
# The float types (FLOAT16, FLOAT32, FLOAT64): what the int8 what-if counts as int8.
FLOATS = frozenset(name for name in TENSOR_TYPES.values() if name.startswith("FLOAT"))
NEWEST = COMPILERS[DEFAULT_COMPILER]
# The compiler that maps what older ones refuse (float models, computed FULLY_CONNECTED weights,
# 2-D outputs, large softmaxes, newer op versions): rules compare against its key.
COMPILER_16 = COMPILERS["16.0"]


def since_16(compiler: Compiler) -> bool:
    return compiler.key >= COMPILER_16.key


class OpSupport(NamedTuple):
    """A row of Coral's supported-ops table."""

    coral_name: str
    min_runtime: int  # oldest Edge TPU runtime that runs it
    note: str = ""
    runtime_documented: bool = True  # False: the runtime number is inferred, not read


# Coral's supported-operations table (coral:models-intro#supported-operations, listed in
# docs/edgetpu-rules.md). Runtime 10 = "All".
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

# The data types that pass as 8-bit in the what-if of a fully int8-quantized model, where every
# float counts as int8.
EIGHT_BIT_IF_INT8 = QUANTIZED | FLOATS


def refused_tensors(opcode: str, tensors: Iterable[Tensor], outputs: tuple[int, ...],
                    passing: frozenset[str] = QUANTIZED) -> list[Tensor]:
    """The tensors that get an op of this type "Operation is working on an unsupported data
    type" (`outputs`: the op's results; `passing`: the types that count as 8-bit). The data
    type is checked before the op type: an op the Edge TPU does not run is refused for its
    data type when it reads anything but 8-bit data, and as not supported when it reads 8-bit
    data and writes 8-bit or int32 results (a top-k of int8 scores, whose indices are int32; a
    gather reading int32 or int64 indices is refused for its data type)."""
    int32_results_pass = opcode not in SUPPORTED_OPS
    refused = []
    for t in tensors:
        if t.dtype not in passing and not (int32_results_pass and t.dtype == "INT32"
                                           and t.index in outputs):
            refused.append(t)
    return refused


# Flags as `tpulens analyze` spells them (the compiler's are -a/--enable_multiple_subgraphs…).
FLAG_A = "-a/--enable-multiple-subgraphs"
FLAG_I = "-i/--intermediate-tensors"
FLAG_M = "-m/--min-runtime-version"

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

# The newest op version compilers before 16 map, and what the next version brought.
MAX_VERSION_BEFORE_16 = {"RESIZE_BILINEAR": 2, "RESIZE_NEAREST_NEIGHBOR": 2, "FULLY_CONNECTED": 4}
NEXT_VERSION_MEANS = {"RESIZE_BILINEAR": "half_pixel_centers",
                      "RESIZE_NEAREST_NEIGHBOR": "half_pixel_centers",
                      "FULLY_CONNECTED": "keep_num_dims"}

# Coral's 2019 table (runtimes up to 12) limits some ops more than its current one does; no
# document says which runtime lifted those limits. They are taken as lifted with the runtime
# that brought new ops (inferred), so the rules that keep them are inferred too.
NEWER_TABLE_RUNTIME = 13

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

# Ops whose input at this slot is a size: computed at run time, it makes the tensors dynamic.
SIZE_INPUTS = {"RESHAPE": 1, "RESIZE_BILINEAR": 1, "RESIZE_NEAREST_NEIGHBOR": 1, "TILE": 1,
               "BROADCAST_TO": 1, "FILL": 0, "PAD": 1}

# ---- size limits (docs/edgetpu-rules.md, "Size limits") ----------------------------------
# The fitted ones are thresholds between the largest value seen mapped and the smallest seen
# refused; those two corpus values sit in the rule's Limit (op_checks), with its citations.

# Coral's 2019 table: Softmax takes at most 16,000 elements (before compiler 16).
SOFTMAX_MAX_ELEMENTS = 16_000
# Estimated: Coral documents a refusal by upscale factor without a number; the corpus shows a
# 33x ResizeBilinear refused and none mapped.
RESIZE_MAX_UPSCALE = 8
# Fitted: Transpose inputs mapped up to 69,696 elements, refused from 112,896.
TRANSPOSE_MAX_ELEMENTS = 90_000
# Fitted: a Reshape of 408,000 elements mapped, one of 1,632,000 refused.
RESHAPE_MAX_ELEMENTS = 800_000
# Fitted: rows (x times channels) mapped up to 174,447, refused from 408,000.
ROW_MAX = 200_000
