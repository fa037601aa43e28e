"""Fix advice chosen by an op's place in the model: (OpContext, the rule the op broke, at_tail)
-> the fix shown instead of the rule's own, or None."""

from __future__ import annotations

from tpulens.analyzer.rules.registry import DOCUMENTED, Evidence, OpContext, Rule, advice
from tpulens.analyzer.rules.tables import QUANTIZED


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
    for t in ctx.inputs:
        if t.dtype in QUANTIZED:
            break
    else:
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
