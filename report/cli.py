"""Build the static report site from a results directory.

Reads results/<experiment>/<variant>.json records and the analysis JSONs they reference
(plus any given with --analysis; given alone, they make the whole site) and writes a
self-contained site: overview with the verdict, one page per experiment (tables, Pareto
charts, study tables), a compare page per experiment (any two variants in any two runs), a
history page per experiment (each metric across the runs of results/history/), the regressions
found there (with an Atom feed), one diagnostics page per analyzed model, supported ops,
environment. All links are relative, so the directory works from file://,
`tpulens serve` and GitHub Pages.

Examples:
  tpulens report --results results --out site
  tpulens analyze m.tflite --json > m.json && tpulens report --analysis m.json
  tpulens report --results results --analysis my_model.json --screenshots docs/img
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tpulens import extras
from tpulens.errors import InputError
from tpulens.report.files import MAX_MODEL_BYTES

HELP = "build the static site (dashboards and op-level diagnostics) from results/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results",
        type=Path,
        help="results directory (default: results; with --analysis alone, none: a site of "
        "those analyses only)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("site"),
        help="output directory, replaced on each build (default: site)",
    )
    parser.add_argument(
        "--analysis",
        type=Path,
        nargs="+",
        default=[],
        metavar="JSON",
        help="extra analysis JSONs (tpulens analyze --json) to publish",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="suite whose [diff] thresholds decide what counts as a regression (default: "
        "./benchmarks.toml if present, else built-in defaults)",
    )
    parser.add_argument(
        "--no-models",
        action="store_true",
        help="publish no model file beside its diagnostics page (no download, no Netron link)",
    )
    parser.add_argument(
        "--max-model-mb",
        type=float,
        default=MAX_MODEL_BYTES / 1e6,
        metavar="MB",
        help="publish only model files up to this size (default: %(default)g MB)",
    )
    parser.add_argument(
        "--screenshots",
        type=Path,
        metavar="DIR",
        help="also write overview.png, diagnostics.png and (with detection pictures) "
        "detections.png into DIR "
        "(needs playwright and /usr/bin/chromium)",
    )


def run(args: argparse.Namespace) -> int:
    extras.require("report")
    from tpulens.history.settings import read_settings
    from tpulens.report.files import ModelFiles
    from tpulens.report.site import build_site

    if not args.max_model_mb >= 0:
        raise InputError(f"--max-model-mb {args.max_model_mb:g}: must be 0 or more")
    results = args.results
    if results is None and not args.analysis:
        results = Path("results")
    models = ModelFiles(not args.no_models, int(args.max_model_mb * 1e6))
    result = build_site(results, args.out, args.analysis, settings=read_settings(args.config),
                        model_files=models)
    for problem in result.problems:
        print(f"tpulens report: warning: {problem}", file=sys.stderr)
    print(f"{len(result.pages)} pages written to {result.out}/ (open {result.out}/index.html)")
    if args.screenshots:
        from tpulens.report.screenshots import take_screenshots

        for path in take_screenshots(result.out, args.screenshots):
            print(f"screenshot: {path}")
    return 0
