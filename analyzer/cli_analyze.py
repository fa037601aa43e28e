"""Predict which ops of TFLite models the Edge TPU compiler maps, and why the others are not.

For one model: the compiler-style summary and Operator / Count / Status table, then each root
cause once (how many later ops follow it to the CPU, why, and its fix), the low-confidence
verdicts by reason, notes on the evidence and what other options would change, in about a
screen; --details lists every op left on the CPU with its root cause and fix instead. This is
a prediction from the model alone (the compiler is not needed); `tpulens compare` checks it
against a real compiled model or log.
A compiled *_edgetpu.tflite is reported as what it holds instead (Edge TPU subgraphs, ops left
on the CPU, package header).

For several models (files, directories searched recursively for *.tflite, shell globs): one
summary table, each model's report first with --details. A compiled X_edgetpu.tflite found
with its X.tflite is listed under it with the compiler's real counts for X's ops and the ops
where the prediction differs (the prediction with -a when the twin holds several Edge TPU
subgraphs); the two count as one model.

--json prints one analysis JSON per model, one per line (JSON Lines); --json-array one array.

Exit codes: 0 analysed; 1 with --fail-on when a model's verdict, predicted or its compiled
twin's, is that or worse (full > partial > none > fails); 2 bad input (missing, damaged or
non-TFLite file, bad options; in a batch the other models are still analysed and reported).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tpulens.analyzer import estimate
from tpulens.analyzer.cli_options import add_compiler_options, given_options

HELP = "predict the Edge TPU placement of every op of .tflite models, with causes and fixes"


def add_arguments(parser) -> None:
    parser.add_argument("models", nargs="+", metavar="MODEL",
                        help="a .tflite (CPU model or compiled *_edgetpu.tflite) or a "
                        "directory searched recursively for *.tflite")
    add_compiler_options(parser, "default 16.0")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true",
                        help="one analysis JSON per model, one per line (docs/data-contracts.md)")
    output.add_argument("--json-array", action="store_true",
                        help="the analysis JSONs as one array")
    parser.add_argument("--details", action="store_true",
                        help="list every op off the Edge TPU with its status, why and fix (the "
                        "default report gives each root cause once); with several models, "
                        "print each model's report before the table")
    hosts = "; ".join(f"{link}: {words.host}" for link, words in estimate.LINKS.items())
    parser.add_argument("--device", choices=tuple(estimate.LINKS), default=estimate.DEFAULT_LINK,
                        help="the device whose Edge TPU latency is shown first and explained: "
                        f"{hosts}; default {estimate.DEFAULT_LINK}")
    parser.add_argument("--fail-on", choices=("partial", "fails"),
                        help="exit 1 when any model's verdict (predicted, or its compiled "
                        "twin's) is this or worse")


def run(args) -> int:
    from tpulens.analyzer import batch, typed_json
    from tpulens.analyzer.analyze import make_options
    from tpulens.errors import InputError

    options = make_options(args.compiler_version, **given_options(args))
    paths, unfound = batch.find_models(args.models)
    if len(args.models) == 1 and unfound and not paths:
        raise InputError(unfound[0].error)
    single = len(args.models) == 1 and not Path(args.models[0]).is_dir()
    outcomes = batch.analyze_batch(paths, options) + unfound
    if single and outcomes[0].error:
        raise InputError(outcomes[0].error)
    for o in outcomes:
        if o.error:
            print(f"tpulens analyze: error: {o.error}", file=sys.stderr)
    if args.json:  # written from the typed values, without building their JSON trees
        for o in outcomes:
            if o.result:
                print(typed_json.dumps(o.result))
    elif args.json_array:
        print(json.dumps([o.analysis for o in outcomes if o.analysis], indent=1))
    else:
        _print_text(outcomes, single, args)
    if any(o.error for o in outcomes):
        return 2
    if args.fail_on and any(batch.model_at_or_below(model, args.fail_on)
                            for model in batch.models_of(outcomes)):
        return 1
    return 0


def _print_text(outcomes: list, single: bool, args) -> None:
    """One model's report, or the batch's table (each model's report first with --details)."""
    from tpulens.analyzer.analysis_report import render_report, render_table

    if single:
        print(render_report(outcomes[0].analysis, args.details, args.device))
        return
    if args.details:
        for o in outcomes:
            if o.analysis:
                print(f"== {o.analysis['model']['path']}\n"
                      f"{render_report(o.analysis, True, args.device)}\n")
    print(render_table(outcomes, args.fail_on))
