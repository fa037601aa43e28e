"""The whole-model failures `edgetpu_compiler` prints, each with a stable code and a hint.

One registry: the log parser classifies failure lines with it, and the hint tells the user
what to change before compiling again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CompilerError:
    code: str
    prefixes: tuple[str, ...]  # how the failure line starts
    hint: str | None


# Checked in order: the first matching prefix gives the code.
KNOWN = (
    CompilerError("NOT_QUANTIZED", ("Model not quantized",),
                  "Quantize the whole model to int8 (full-integer post-training quantization "
                  "with a representative dataset); `tpulens analyze` lists the float tensors."),
    CompilerError("INVALID_MODEL", ("Invalid model", "Model could not be parsed"),
                  "The compiler could not read the model, usually because a newer TensorFlow "
                  "wrote it (see the ERROR lines): use compiler 16.0, or convert with an older "
                  "TensorFlow."),
    CompilerError("UNKNOWN_OP_VERSION", ("ERROR: Didn't find op for builtin opcode",),
                  "The converter wrote an op version this compiler does not know: use compiler "
                  "16.0, or convert with an older TensorFlow (`tpulens analyze "
                  "--compiler-version V` predicts for each compiler)."),
    CompilerError("DYNAMIC_TENSORS",
                  ("ERROR: Attempting to use a delegate that only supports static-sized",),
                  "Fix every shape before converting: batch size 1 (a concrete input "
                  "signature) and no tf.shape()-driven reshapes."),
    CompilerError("LARGE_ACTIVATIONS",
                  ("Compilation failed: Compilation failed due to large activation",),
                  "A tensor inside the model is too large for the Edge TPU: lower the input "
                  "resolution, or end the Edge TPU part before it with `edgetpu_compiler -i`."),
    CompilerError("INTERNAL_ERROR", ("Internal compiler error",),
                  "The compiler failed on an op named in the ERROR lines above: try another "
                  "compiler version, or end the Edge TPU part before that op with "
                  "`edgetpu_compiler -i`."),
    CompilerError("COMPILATION_FAILED", ("Compilation failed",),
                  "The compiler gave no reason: `tpulens analyze` on the model shows the ops "
                  "it cannot map; `edgetpu_compiler -s` prints its operation table."),
    CompilerError("COMPILER_ERROR", ("ERROR:",), None),
)


def classify(line: str) -> CompilerError | None:
    """The known failure a line reports, if any."""
    return next((e for e in KNOWN if line.startswith(e.prefixes)), None)
