"""Run the experiments of a benchmarks.toml and write one JSON record per variant.

Every step (train, optimize, convert, compile, evaluate, fetch, detection) is keyed by a hash
of its inputs and config and cached under .cache/tpulens/ next to benchmarks.toml, so a second
run re-runs nothing; records go to results/<experiment>/<variant>.json (atomic writes: a killed
run leaves no half record, and the next run resumes). Independent steps run in parallel worker
processes (-j), each with its share of the CPU threads.

Profiles: `quick` (tests, minutes), `default` (`make report`), `full`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run the benchmark experiments of benchmarks.toml (cached, parallel)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default="benchmarks.toml", type=Path,
                        help="suite file (default: ./benchmarks.toml)")
    parser.add_argument("--profile", default="default",
                        help="profile in the suite: quick, default or full (default: default)")
    parser.add_argument("-j", "--jobs", type=int, default=2,
                        help="worker processes (default: 2)")
    parser.add_argument("--only", action="append", metavar="EXP",
                        help="run only this experiment (repeatable)")
    parser.add_argument("--results", type=Path, default=None,
                        help="results directory (default: results/ next to the suite)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="artifact cache (default: .cache/tpulens/ next to the suite)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a variant failed (default: failures are recorded, "
                             "the run still succeeds so a report can show them)")
    parser.add_argument("--check", action="store_true",
                        help="validate the suite and list the variants; run nothing")


def run(args: argparse.Namespace) -> int:
    from runners import config, pipeline
    from runners.plan import build_plan

    if args.jobs < 1:
        from tpulens.errors import InputError

        raise InputError(f"-j/--jobs {args.jobs}: expected at least 1")
    if args.check:
        suite = config.load(args.config)
        plan = build_plan(suite, args.profile, args.only)
        for v in plan.variants:
            print(f"{v.experiment}/{v.variant}")
        print(f"{args.config}: valid; {len(plan.variants)} variants, {len(plan.nodes)} steps "
              f"in profile {args.profile!r}")
        return 0
    summary = pipeline.run_suite(args.config, args.profile, args.jobs, args.only, args.results,
                                 args.cache_dir, progress=not args.no_progress)
    print(f"{summary.variants} variants: {summary.up_to_date} up to date, "
          f"{summary.written} written; steps: {summary.steps_run} run, "
          f"{summary.steps_cached} cached; {summary.seconds:.1f} s "
          f"({summary.cpu_seconds:.0f} CPU-s in steps)")
    for name, status in summary.failed:
        print(f"  {status}: {name} (see its record's notes)")
    failed = any(status == "failed" for _, status in summary.failed)
    return 1 if failed and args.strict else 0
