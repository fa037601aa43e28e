"""The whole-model checks: refusals that stop the compile before anything is mapped. Each
receives the model and the compiler and returns None, or what in the model is refused."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from tpulens.analyzer.compilers import Compiler
from tpulens.analyzer.model import Model, Subgraph
from tpulens.analyzer.partition import Dataflow, dataflow
from tpulens.analyzer.rules.registry import INFERRED, OBSERVED, Evidence, model_rule
from tpulens.analyzer.rules.tables import QUANTIZED, SIZE_INPUTS, UNPARSED_VERSIONS, since_16


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


def _unparsed_seen() -> str:
    """"compiler 16 with TRANSPOSE_CONV 4 or CONV_2D 6; …", read from UNPARSED_VERSIONS."""
    def versions(ops: dict) -> str:
        items = [f"{op} {v}" for op, v in ops.items()]
        return f"{', '.join(items[:-1])} or {items[-1]}" if len(items) > 1 else items[0]

    return "; ".join(f"compiler {major}.{minor} with {versions(ops)}"
                     for (major, minor), ops in UNPARSED_VERSIONS.items())


@cache
def first_unparsed_versions(compiler: Compiler) -> Mapping[str, int]:
    """Op type -> the first version of it the compiler's own TFLite does not know."""
    first: dict[str, int] = {}
    for key, ops in UNPARSED_VERSIONS.items():
        if key >= compiler.key:
            for opcode, version in ops.items():
                first[opcode] = min(version, first.get(opcode, version))
    return MappingProxyType(first)


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
    unparsed = first_unparsed_versions(compiler)
    for op in model.subgraphs[0].operators:
        first = unparsed.get(op.opcode)
        if first is not None and op.version >= first:
            return (f"ERROR: Didn't find op for builtin opcode '{op.opcode}' version "
                    f"'{op.version}' (op #{op.index})")
    return None


DYNAMIC_TENSORS = ("Attempting to use a delegate that only supports static-sized tensors with "
                   "a graph that has dynamic-sized tensors.")


@model_rule(DYNAMIC_TENSORS, "DYNAMIC_TENSORS",
            "Fix every shape before converting: batch size 1 (set_shape / a concrete "
            "input_signature) and no tf.shape()-driven reshapes.",
            Evidence(OBSERVED, "google-coral/edgetpu#829", "tensorflow/tensorflow#51467"))
def static_shapes(model: Model, compiler: Compiler) -> str | None:
    """Tensor sizes must be known at compile time: an op that computes a size at run time
    (SHAPE, or a reshape/resize/pad whose size input is computed) makes the compile fail."""
    main = model.subgraphs[0]
    made = flow_of(main).producer  # every tensor an op writes
    for op in main.operators:
        slot = SIZE_INPUTS.get(op.opcode)
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


