"""Compare the analyzer's prediction for a CPU model with what edgetpu_compiler really did.

The truth comes from the compiled X_edgetpu.tflite (which op went where, read from tensor
names) and/or the compiler's log (counts per operator and status, summary, failures). Every
disagreement is listed: op, predicted status, actual status. Without --compiler-version the
version printed in the log is used, else 16.0; -a, -i and -m say how the compiler was run
(default: as on the command line pasted in the log).

The compiled model must have been made from the CPU model (same input and output tensors,
no op the CPU model lacks): a wrong pair, or a file the compiler did not write, is refused, and
so is the log of another model. A compiled model of several Edge TPU subgraphs was compiled
with -a (one without it), so -a is then predicted too, unless the log or version says otherwise.

Exit code: 0 when prediction and compiler agree, 1 when they differ, 2 on bad input.
"""

from __future__ import annotations

import json

from tpulens.analyzer.cli_options import add_compiler_options, given_options

HELP = "compare the prediction with a compiled model and/or a compiler log"


def add_arguments(parser) -> None:
    parser.add_argument("cpu_model", help="the CPU .tflite that was given to the compiler")
    parser.add_argument("--compiled", metavar="X_edgetpu.tflite",
                        help="the compiler's output model")
    parser.add_argument("--log", metavar="X_edgetpu.log", help="the compiler's log or stdout")
    add_compiler_options(parser, "default: from the log, else 16.0")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")


def run(args) -> int:
    from tpulens.analyzer.compare import compare_files, render_text

    result = compare_files(args.cpu_model, args.compiled, args.log, args.compiler_version,
                           given_options(args))
    print(json.dumps(result.to_json(), indent=2) if args.json else render_text(result))
    return 0 if result.agree else 1
