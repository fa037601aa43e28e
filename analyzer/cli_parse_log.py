"""Read what edgetpu_compiler printed: an X_edgetpu.log file, its stdout (with or without -s),
co-compiled models, -d delegate-search lines and failures. Text pasted from an issue is fine:
whatever can be read is reported, and anything cut, abridged or unknown becomes a warning.

Prints, per model, the (operator, count, status) rows and the summary lines, then errors with
a hint for each known failure, and warnings: anything that looks cut, and a table whose
completeness no summary totals can confirm. --json prints the ParsedLog JSON instead.
`-` reads the log from standard input.

Exit codes: 0 the log was read and shows no failed compile; 1 the log shows a failed compile
(an error line such as "Model not quantized" or "Compilation failed"); 2 nothing readable.
"""

from __future__ import annotations

import json
import sys

HELP = "parse an edgetpu_compiler log or stdout (per-op-type rows, summary, errors)"


def add_arguments(parser) -> None:
    parser.add_argument("log", help="X_edgetpu.log or saved compiler stdout; - reads standard "
                        "input (e.g. edgetpu_compiler -s m.tflite | tpulens parse-log -)")
    parser.add_argument("--json", action="store_true", help="print the parsed log as JSON")


def run(args) -> int:
    from tpulens.analyzer.log_report import render_text
    from tpulens.analyzer.logs import NOTHING_RECOGNISED, parse_log, read_log_text
    from tpulens.errors import InputError

    text, name = read_log_text(args.log)
    log = parse_log(text)
    if log.kind == "empty":
        raise InputError(f"{name}: empty, nothing to parse")
    if not log.recognised:
        raise InputError(f"{name}: {NOTHING_RECOGNISED}")
    if args.json:
        json.dump(log.to_json(), sys.stdout, indent=1)
        print()
    else:
        for model in log.models:  # a size the log gave unreadably: null in the JSON
            model.summary = {k: "unknown" if v is None else v for k, v in model.summary.items()}
        print(render_text(log))
    return 1 if log.compiled is False else 0
