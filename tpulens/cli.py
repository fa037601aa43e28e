"""The `tpulens` console script: one parser, one module per subcommand.

Each subcommand module exposes HELP, add_arguments(parser) and run(args) -> exit code. Modules
keep heavy imports (TensorFlow, pandas, plotly) inside run(), so `tpulens analyze` starts fast.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys

from tpulens.errors import InputError

COMMANDS = {
    "analyze": "tpulens.analyzer.cli_analyze",
    "compare": "tpulens.analyzer.cli_compare",
    "parse-log": "tpulens.analyzer.cli_parse_log",
    "rules": "tpulens.analyzer.cli_rules",
    "run": "tpulens.runners.cli",
    "report": "tpulens.report.cli",
    "serve": "tpulens.report.cli_serve",
    "diff": "tpulens.history.cli_diff",
}


class Version(argparse.Action):
    """--version: the installed metadata is read only when asked (importing it costs more than
    parsing a model)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show the program's version number and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from tpulens.extras import version

        print(f"tpulens {version()}")
        parser.exit()


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tpulens",
        description="Explain which ops of a TFLite model run on a Coral Edge TPU and why; "
        "run compression experiments; publish the results as a static site.",
    )
    parser.add_argument("--version", action=Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Import only the module of the command being run (all of them for --help).
    wanted = [a for a in argv if a in COMMANDS][:1] or list(COMMANDS)
    for name, module_name in COMMANDS.items():
        if name not in wanted:
            sub.add_parser(name, add_help=False)
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return dispatch(build_parser(argv), argv)


def console() -> int:
    """The `tpulens` console script: main() in a process of its own, whose command modules
    live as long as it does. The collector is paused while they load (collecting among objects
    that all stay found nothing), then they are kept out of it, so the collections the
    command's work triggers do not walk them again (about 5 % of an analysis)."""
    argv = sys.argv[1:]
    gc.disable()
    parser = build_parser(argv)
    gc.freeze()
    gc.enable()
    return dispatch(parser, argv)


def dispatch(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    """Run the command `argv` names; its exit code."""
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except InputError as err:
        print(f"tpulens {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tpulens: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tpulens ... | head`: the reader left, nothing more to say
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(console())
