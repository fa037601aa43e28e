"""Print the Edge TPU supported-ops reference (markdown), generated from the rule table, with
each rule's evidence: its kind, its citations and how many corpus ops confirm it."""

from __future__ import annotations

from tpulens.analyzer.compilers import DEFAULT_COMPILER

HELP = "print the Edge TPU rule reference (with each rule's evidence) from the rule table"


def add_arguments(parser) -> None:
    parser.add_argument("--compiler-version", default=DEFAULT_COMPILER, metavar="V",
                        help=f"compiler whose rules to print (default {DEFAULT_COMPILER})")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")


def run(args) -> int:
    import json

    from tpulens.analyzer import reference

    if args.json:
        print(json.dumps({"general": reference.general_rules(),
                          "ops": reference.supported_ops(args.compiler_version)}, indent=1))
    else:
        print(reference.markdown(args.compiler_version), end="")
    return 0
