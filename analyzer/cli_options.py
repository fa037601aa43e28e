"""The compiler flags `analyze` and `compare` share: how the compile is (or was) run."""

from __future__ import annotations

from tpulens.analyzer.compilers import COMPILERS


def add_compiler_options(parser, version_help: str) -> None:
    """--compiler-version, -a, -i and -m, all defaulting to None ("not given")."""
    parser.add_argument("--compiler-version", metavar="V",
                        help=f"Edge TPU compiler: {', '.join(COMPILERS)} ({version_help}; "
                        "16.0.384591198 style is accepted)")
    parser.add_argument("-a", "--enable-multiple-subgraphs", action="store_true", default=None,
                        help="compile with -a: map every supported partition, not just the "
                        "first")
    parser.add_argument("-i", "--intermediate-tensors", metavar="T1,T2",
                        help="compile with -i: end the Edge TPU subgraph at these tensors")
    parser.add_argument("-m", "--min-runtime-version", type=int, metavar="N",
                        help="compile with -m: oldest Edge TPU runtime to support (10-14)")


def given_options(args) -> dict:
    """The analyzer options the user gave on the command line (absent ones left out)."""
    options = {}
    if args.enable_multiple_subgraphs:
        options["enable_multiple_subgraphs"] = True
    if args.intermediate_tensors is not None:
        options["intermediate_tensors"] = tuple(
            t for t in args.intermediate_tensors.split(",") if t)
    if args.min_runtime_version is not None:
        options["min_runtime_version"] = args.min_runtime_version
    return options

