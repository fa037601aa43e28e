"""Predict which ops of TFLite models the Edge TPU compiler maps, and why the others are not.

For one model: the compiler-style summary and Operator / Count / Status table, then every op
left on the CPU with its root cause and a fix. This is a prediction from the model alone (the
compiler is not needed); `tpulens compare` checks it against a real compiled model or log.
A compiled *_edgetpu.tflite is reported as what it holds instead (Edge TPU subgraphs, ops left
on the CPU, package header).

For several models (files, directories searched recursively for *.tflite, shell globs): one
summary table, each model's report first with --details. A compiled X_edgetpu.tflite found
with its X.tflite is listed under it with the compiler's real counts for X's ops.

--json prints one analysis JSON per model, one per line (JSON Lines); --json-array one array.

Exit codes: 0 analysed; 1 with --fail-on when a model's verdict is that or worse
(full > partial > none > fails); 2 bad input (missing, damaged or non-TFLite file, bad
options; in a batch the other models are still analysed and reported).
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections import Counter
from pathlib import Path

from tpulens.analyzer.cli_options import add_compiler_options, given_options
from tpulens.analyzer.vocabulary import Confidence, Placement, Source, Verdict

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
                        help="with several models, print each model's report before the table")
    parser.add_argument("--fail-on", choices=("partial", "fails"),
                        help="exit 1 when any model's verdict is this or worse")


def run(args) -> int:
    from tpulens.analyzer import batch
    from tpulens.analyzer.analyze import make_options
    from tpulens.errors import InputError

    options = make_options(args.compiler_version, **given_options(args))
    paths, unfound = batch.find_models(args.models)
    if len(args.models) == 1 and unfound:
        raise InputError(unfound[0].error)
    single = len(args.models) == 1 and not Path(args.models[0]).is_dir()
    outcomes = batch.analyze_batch(paths, options) + unfound
    if single and outcomes[0].error:
        raise InputError(outcomes[0].error)
    for o in outcomes:
        if o.error:
            print(f"tpulens analyze: error: {o.error}", file=sys.stderr)
    analyses = [o.analysis for o in outcomes if o.analysis]
    if args.json_array:
        print(json.dumps(analyses, indent=1))
    elif args.json:
        for analysis in analyses:
            print(json.dumps(analysis))
    elif single:
        print(render_report(analyses[0]))
    else:
        if args.details:
            for analysis in analyses:
                print(f"== {analysis['model']['path']}\n{render_report(analysis)}\n")
        print(render_table(outcomes, args.fail_on))
    if any(o.error for o in outcomes):
        return 2
    if args.fail_on and any(batch.at_or_below(o.verdict, args.fail_on) for o in outcomes):
        return 1
    return 0


def render_report(analysis: dict) -> str:
    """The one-model report: a prediction, or what a compiled model holds."""
    return render_compiled(analysis) if analysis["model"]["kind"] == "compiled" \
        else render_text(analysis)


def _cell(value) -> str:
    return "-" if value is None else str(value)


def render_table(outcomes: list, fail_on: str | None = None) -> str:
    """One row per model: ops, on TPU, on CPU, verdict and low-confidence ops. A compiled twin
    sits under its CPU model with the compiler's counts for that model's ops."""
    from tpulens.analyzer import batch

    rows = []
    for o in outcomes:
        name = f"  {o.path.name}" if o.twin_of else str(o.path)
        if o.error:
            rows.append((name, "-", "-", "-", "-", "error", "-"))
            continue
        s, kind = o.analysis["summary"], o.analysis["model"]["kind"]
        counts = o.analysis.get("compiled_from") or s
        source = Source.COMPILER if kind == "compiled" else Source.PREDICTED
        if kind == "compiled" and "compiled_from" not in o.analysis:
            source = "compiled file"  # counts of the file's own ops (one per TPU subgraph)
        rows.append((name, source, _cell(counts["ops_total"]), _cell(counts["ops_tpu"]),
                     _cell(counts["ops_cpu"]), s["verdict"], _cell(s.get("ops_low_confidence"))))
    header = ("model", "source", "ops", "on TPU", "on CPU", "verdict", "low confidence")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i in (0, 1, 5) else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in (header, *rows)]
    verdicts = [o.verdict or "error" for o in outcomes]
    counted = ", ".join(f"{verdicts.count(v)} {v}" for v in
                        (*Verdict, "error") if v in verdicts)
    lines += ["", f"{len(outcomes)} model(s): {counted}"]
    if fail_on:
        failing = sum(batch.at_or_below(o.verdict, fail_on) for o in outcomes)
        lines.append(f"--fail-on {fail_on}: {failing} model(s) at or below '{fail_on}'")
    return "\n".join(lines)


def render_compiled(analysis: dict) -> str:
    """What a compiled model holds: its Edge TPU subgraphs, their packages, the CPU ops."""
    s, edgetpu = analysis["summary"], analysis["edgetpu"]
    out = [f"COMPILED {analysis['model']['path']}: {s['tpu_subgraphs']} Edge TPU subgraph(s), "
           f"{s['ops_cpu']} op(s) left on the CPU (verdict {s['verdict']})"]
    if not s["tpu_subgraphs"]:
        out.append(f"The Edge TPU compiler wrote this file (description "
                   f"{edgetpu['description']!r}) with nothing mapped: every op runs on the CPU.")
    facts = []
    if s["compiler_version"]:
        facts.append(f"compiler {s['compiler_version']}")
    if analysis["options"]["min_runtime_version"] is not None:
        facts.append(f"needs Edge TPU runtime >= {analysis['options']['min_runtime_version']}")
    if facts:
        out.append("; ".join(facts))
    packages = edgetpu["packages"]
    for c in edgetpu["custom_ops"]:
        out.append(f"  edgetpu-custom-op #{c['index']} (subgraph {c['subgraph']}): "
                   f"{len(c['inputs'])} input(s) -> {len(c['outputs'])} output(s)")
        for exe in packages[c["package"]]["executables"] if c["package"] is not None else ():
            name = f"executable {exe['name']} " if exe["name"] else "executable "
            out.append(f"    {name}[{exe['type']}] chip {exe['chip'] or 'not named'}, "
                       f"parameters {exe['parameter_bytes']} bytes")
        if c["error"]:
            out.append(f"    ! {c['error']}")
    wrap = textwrap.TextWrapper(width=100, subsequent_indent="    ", break_long_words=False,
                                break_on_hyphens=False)
    boundary = edgetpu["boundary_tensors"]
    if boundary["inputs"]:
        out += wrap.wrap("boundary inputs:  " + ", ".join(t["name"] for t in boundary["inputs"]))
        out += wrap.wrap("boundary outputs: " + ", ".join(t["name"]
                                                          for t in boundary["outputs"]))
    if edgetpu["cpu_ops_histogram"]:
        out += wrap.wrap("ops on the CPU: " + ", ".join(
            f"{k} x{v}" for k, v in edgetpu["cpu_ops_histogram"].items()))
    twin = analysis.get("compiled_from")
    if twin:
        out.append(f"compiled from {twin['path']}: {twin['ops_tpu']} of its {twin['ops_total']} "
                   f"ops on the Edge TPU, {twin['ops_cpu']} on the CPU")
    out += [f"warning: {w}" for w in analysis["warnings"]]
    return "\n".join(out)


def render_text(analysis: dict) -> str:
    s = analysis["summary"]
    opts = analysis["options"]
    flags = [f"-m {opts['min_runtime_version']}"]
    if opts["enable_multiple_subgraphs"]:
        flags.append("-a")
    if opts["intermediate_tensors"]:
        flags.append("-i " + ",".join(opts["intermediate_tensors"]))
    lines = [
        f"PREDICTION for {analysis['model']['path']} (Edge TPU compiler "
        f"{s['compiler_version']}, {' '.join(flags)}; tpulens rules, not the real compiler)",
        "",
    ]
    wrap = textwrap.TextWrapper(width=100, initial_indent="    ", subsequent_indent="    ",
                                break_long_words=False, break_on_hyphens=False)
    if analysis["errors"]:
        lines += ["The compiler would reject the model:"] + [f"  {e}" for e in
                                                              analysis["errors"]]
        if analysis["ops"]:
            lines += ["", textwrap.fill("Fix: " + analysis["ops"][0]["fix"], width=100,
                                        break_long_words=False, break_on_hyphens=False)]
        return "\n".join(lines + _what_if_lines(s, analysis["ops"]))
    low = s.get("ops_low_confidence", 0)
    lines += [
        f"Number of Edge TPU subgraphs: {s['tpu_subgraphs']}",
        f"Total number of operations: {s['ops_total']}",
        f"Number of operations that will run on Edge TPU: {s['ops_tpu']}",
        f"Number of operations that will run on CPU: {s['ops_cpu']}",
    ]
    if s.get("ops_dropped"):
        lines.append(f"Operations that feed no output (dropped): {s['ops_dropped']}")
    lines += [
        f"Verdicts with low confidence (marked ?): {low}",
        "",
        f"{'Operator':<31}{'Count':<11}Status",
        "",
    ]
    lines += [f"{r['operator']:<31}{r['count']:<11}{r['status']}" for r in analysis["table"]]
    cpu = [o for o in analysis["ops"] if o["placement"] != Placement.TPU]
    if cpu:
        lines += ["", f"Ops off the Edge TPU ({len(cpu)}), in execution order:"]
    for o in cpu:
        lines += _op_lines(o, wrap)
        lines.append(f"    status: {o['status'] or o['placement']} [{o['reason_code']}]")
        if o["root_cause"] is not None:
            lines.append(f"    root cause: op #{o['root_cause']}")
        lines += wrap.wrap("why: " + o["explanation"]) + wrap.wrap("fix: " + o["fix"])
    unsure = [o for o in analysis["ops"] if o["placement"] == Placement.TPU
              and o.get("confidence") == Confidence.LOW]
    if unsure:
        lines += ["", f"Ops predicted on the Edge TPU with low confidence ({len(unsure)}):"]
        for reason, ops in _by_reason(unsure).items():
            lines += _op_lines(ops[0], wrap) if len(ops) == 1 else _group_lines(reason, ops, wrap)
    return "\n".join(lines + _what_if_lines(s, analysis["ops"]))


def _op_lines(op: dict, wrap: textwrap.TextWrapper) -> list[str]:
    """The op's heading (whole tensor names, never cut) and, when unsure, why."""
    name = op["opcode"] + (f" ({op['custom_code']})" if op["custom_code"] else "")
    where = f"subgraph {op['subgraph']} " if op["subgraph"] else ""
    mark = "? " if op.get("confidence") == Confidence.LOW else ""
    lines = [f"  {mark}#{op['index']} {where}{name} -> {_names(op['outputs'])}"]
    if mark:
        lines += wrap.wrap("low confidence: " + op["confidence_reason"])
    return lines


def _by_reason(ops: list[dict]) -> dict[str, list[dict]]:
    """Ops grouped by why their verdict is unsure, in order of first appearance."""
    groups: dict[str, list[dict]] = {}
    for op in ops:
        groups.setdefault(op["confidence_reason"], []).append(op)
    return groups


def _group_lines(reason: str, ops: list[dict], wrap: textwrap.TextWrapper) -> list[str]:
    """Ops unsure for one reason: how many, of which kinds, which ones, and the reason once."""
    kinds = ", ".join(f"{name} x{n}" for name, n in Counter(o["opcode"] for o in ops)
                      .most_common())
    heading = f"? {len(ops)} ops ({kinds}): {_indices(ops)}"
    return (textwrap.wrap(heading, width=100, initial_indent="  ", subsequent_indent="    ",
                          break_long_words=False, break_on_hyphens=False)
            + wrap.wrap("low confidence: " + reason))


def _indices(ops: list[dict]) -> str:
    """'#0-#12, #14' for ops in execution order; ops outside the main subgraph say theirs."""
    runs: list[list[int]] = []  # [subgraph, first, last]
    for op in ops:
        if runs and runs[-1][0] == op["subgraph"] and runs[-1][2] == op["index"] - 1:
            runs[-1][2] = op["index"]
        else:
            runs.append([op["subgraph"], op["index"], op["index"]])
    return ", ".join((f"subgraph {sub} " if sub else "") + f"#{first}"
                     + (f"-#{last}" if last > first else "") for sub, first, last in runs)


def _names(names: list[str], width: int = 80) -> str:
    """Whole names joined up to about `width` characters, then how many more."""
    shown: list[str] = []
    for i, name in enumerate(names):
        if shown and len(", ".join(shown + [name])) > width:
            return ", ".join(shown) + f" (+{len(names) - i} more)"
        shown.append(name)
    return ", ".join(shown)


def _what_if_lines(summary: dict, ops: list[dict]) -> list[str]:
    cases = summary.get("what_if") or []
    if not cases:
        return []
    lines = ["", "What if (predicted the same way):"]
    for case in cases:
        more = case["ops_tpu"] - summary["ops_tpu"]
        if summary["verdict"] == "fails" or "blocking" in case:
            text = (f"{case['ops_tpu']} ops on the Edge TPU, {case['ops_cpu']} on the CPU")
        elif more:
            text = (f"{abs(more)} {'more' if more > 0 else 'fewer'} ops on the Edge TPU "
                    f"({case['ops_tpu']} of {case['ops_tpu'] + case['ops_cpu']})")
        else:
            text = f"the same {case['ops_tpu']} ops on the Edge TPU"
        if case.get("ops_low_confidence"):
            text += f", {case['ops_low_confidence']} of the verdicts low-confidence"
        if case.get("blocking"):
            text += "; still blocking: " + ", ".join(case["blocking"])
        lines.append(f"  {case['label']}: {text}")
    return lines
