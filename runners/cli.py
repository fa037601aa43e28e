"""Run the experiments of a benchmarks.toml and write one JSON record per variant.

Every step (train, optimize, convert, compile, evaluate, fetch, extract and the detection
dataset, train, export and evaluate steps) is keyed by a hash of its inputs, its config and its
code, and cached under .cache/tpulens/ next to benchmarks.toml, so a second run re-runs nothing;
records go to results/<experiment>/<variant>.json (atomic writes: a killed run leaves no half
record, and the next run resumes). Independent steps run in parallel worker processes (-j),
each with its share of the CPU threads, or as tasks on a Ray cluster (`--executor ray`, with
the `tpulens[ray]` extra; the cache must then be a path every node sees). `--check` validates
everything it can without running (the user's detection datasets and detectors included) and
lists every problem at once.

`--remeasure` writes every selected variant again, in a new run of the history: the evaluate
steps run anew (fresh latency samples) on the cached trained, converted and compiled models.

Profiles: `quick` (tests, minutes), `default` (`make report`), `full`.

Examples:
  tpulens run --profile quick                       build what is missing
  tpulens run --remeasure                           re-time every variant at this commit
  tpulens run --remeasure --only quantization       re-time one experiment
  tpulens run --executor ray --address auto         steps as tasks on this machine's cluster
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from tpulens import extras
from tpulens.errors import InputError
from tpulens.runners.executors import ExecutorKind

HELP = "run the benchmark experiments of benchmarks.toml (cached, parallel)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", type=Path,
                        help="suite file (default: ./benchmarks.toml, else the default suite "
                             "shipped with tpulens)")
    parser.add_argument("--profile", default="default",
                        help="profile in the suite: quick, default or full (default: default)")
    parser.add_argument("-j", "--jobs", type=int, default=2,
                        help="worker processes (default: 2)")
    parser.add_argument("--executor", choices=[k.value for k in ExecutorKind],
                        default=ExecutorKind.LOCAL.value,
                        help="where steps run: local worker processes (default) or Ray tasks "
                             "(needs tpulens[ray])")
    parser.add_argument("--address", default=None, metavar="auto|ray://HOST:PORT",
                        help="with --executor ray: the cluster to use (default: RAY_ADDRESS, "
                             "else a Ray instance started on this machine)")
    parser.add_argument("--only", action="append", metavar="EXP",
                        help="run only this experiment (repeatable)")
    parser.add_argument("--results", type=Path, default=None,
                        help="results directory (default: results/ next to the suite)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="artifact cache (default: .cache/tpulens/ next to the suite)")
    parser.add_argument("--remeasure", action="store_true",
                        help="run the evaluate steps of the selected variants again (reusing "
                             "cached training, conversion and compilation) and write every "
                             "variant in a new history run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a variant failed (default: failures are recorded, "
                             "the run still succeeds so a report can show them)")
    parser.add_argument("--check", action="store_true",
                        help="validate the suite (and the files it names) and list the "
                             "variants; run nothing")


def suite_path(given: Path | None) -> tuple[Path, Path]:
    """(suite file, directory its results and cache default to). Without a suite argument:
    ./benchmarks.toml, else the suite shipped in the package, writing under the current
    directory rather than inside the installation."""
    if given is not None or Path("benchmarks.toml").is_file():
        path = given or Path("benchmarks.toml")
        return path, path.resolve().parent
    shipped = resources.files("tpulens") / "benchmarks.toml"
    if not shipped.is_file():
        raise InputError("no benchmarks.toml in this directory and none shipped with tpulens; "
                         "pass a suite file: tpulens run SUITE.toml")
    return Path(str(shipped)), Path.cwd()


def run(args: argparse.Namespace) -> int:
    from tpulens.runners import config, pipeline
    from tpulens.runners.plan import build_plan

    if args.jobs < 1:
        raise InputError(f"-j/--jobs {args.jobs}: expected at least 1")
    if args.address and args.executor != ExecutorKind.RAY:
        raise InputError("--address names a Ray cluster: use it with --executor ray")
    args.config, home = suite_path(args.config)
    if args.check:
        suite = config.load(args.config, deep=True)
        plan = build_plan(suite, args.profile, args.only)
        for v in plan.variants:
            print(f"{v.experiment}/{v.variant}")
        print(f"{args.config}: valid; {len(plan.variants)} variants, {len(plan.nodes)} steps "
              f"in profile {args.profile!r}")
        return 0
    extras.require("runners")
    summary = pipeline.run_suite(args.config, args.profile, args.jobs, args.only,
                                 args.results or home / "results",
                                 args.cache_dir or home / ".cache" / "tpulens",
                                 progress=not args.no_progress, remeasure=args.remeasure,
                                 executor=ExecutorKind(args.executor), address=args.address)
    steps = [f"{summary.steps_run} run", f"{summary.steps_cached} cached"] + [
        f"{count} {what}" for count, what in (
            (summary.steps_failed, "failed"), (summary.steps_skipped, "skipped"),
            (summary.steps_blocked, "not run (a step they need failed)")) if count]
    print(f"{summary.variants} variants: {summary.up_to_date} up to date, "
          f"{summary.written} written; steps: {', '.join(steps)}; {summary.seconds:.1f} s "
          f"({summary.cpu_seconds:.0f} CPU-s in steps)")
    for name, status in summary.failed:
        print(f"  {status}: {name} (see its record's notes)")
    failed = any(status == "failed" for _, status in summary.failed)
    return 1 if failed and args.strict else 0
