"""Read what edgetpu_compiler printed: an X_edgetpu.log file, its stdout (with or without -s),
co-compiled models, -d delegate-search lines and failures. Text pasted from an issue is fine:
whatever can be read is reported, and anything cut, abridged or unknown becomes a warning.

Prints, per model, the (operator, count, status) rows and the summary lines, then errors and
warnings; --json prints the ParsedLog JSON instead.
"""

from __future__ import annotations

import json

HELP = "parse an edgetpu_compiler log or stdout (per-op-type rows, summary, errors)"


def add_arguments(parser) -> None:
    parser.add_argument("log", help="X_edgetpu.log or saved compiler stdout")
    parser.add_argument("--json", action="store_true", help="print the parsed log as JSON")


def run(args) -> int:
    from tpulens.analyzer.logs import parse_log_file, render_text

    from tpulens.errors import InputError

    log = parse_log_file(args.log)
    if log.kind in ("empty", "unknown") and not log.errors:
        raise InputError(f"{args.log}: {log.warnings[0] if log.warnings else 'nothing read'}")
    print(json.dumps(log.to_json(), indent=2) if args.json else render_text(log))
    return 0
