"""Predict which ops of a TFLite model the Edge TPU compiler maps, and why the others are not.

Prints the compiler-style summary and Operator / Count / Status table, then every op left on
the CPU with its root cause and a fix. This is a prediction from the model alone (the compiler
is not needed); `tpulens compare` checks it against a real compiled model or log.

Given a compiled *_edgetpu.tflite, reports what it contains instead (Edge TPU custom ops,
ops left on the CPU, package header).

Exit codes: 0 analysed, 2 bad input (missing, damaged or non-TFLite file, bad options).
"""

from __future__ import annotations

import json
import sys
import textwrap

from tpulens.analyzer.compilers import COMPILERS, DEFAULT_COMPILER

HELP = "predict the Edge TPU placement of every op of a .tflite, with causes and fixes"


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a .tflite model (CPU model or compiled *_edgetpu.tflite)")
    parser.add_argument("--compiler-version", default=DEFAULT_COMPILER, metavar="V",
                        help=f"Edge TPU compiler to emulate: {', '.join(COMPILERS)} "
                        f"(default {DEFAULT_COMPILER}; 16.0.384591198 style is accepted)")
    parser.add_argument("-a", "--enable-multiple-subgraphs", action="store_true",
                        help="emulate -a: map every supported partition, not just the first")
    parser.add_argument("-i", "--intermediate-tensors", default="", metavar="T1,T2",
                        help="emulate -i: end the Edge TPU subgraph at these tensors")
    parser.add_argument("-m", "--min-runtime-version", type=int, metavar="N",
                        help="emulate -m: oldest Edge TPU runtime to support (10-14)")
    parser.add_argument("--json", action="store_true",
                        help="print the analysis JSON (docs/data-contracts.md)")


def run(args) -> int:
    from tpulens.analyzer.analyze import analyze_model, make_options, to_json
    from tpulens.analyzer.model import read_model

    options = make_options(args.compiler_version, args.enable_multiple_subgraphs,
                           [t for t in args.intermediate_tensors.split(",") if t],
                           args.min_runtime_version)
    model = read_model(args.model)
    from tpulens.analyzer import compiled

    if compiled.is_compiled(model):
        desc = compiled.describe(model)
        print(json.dumps(desc, indent=1) if args.json else compiled.render_text(desc))
        return 0
    analysis = to_json(analyze_model(model, options))
    if args.json:
        json.dump(analysis, sys.stdout, indent=1)
        print()
    else:
        print(render_text(analysis))
    return 0


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
    cpu = [o for o in analysis["ops"] if o["placement"] != "TPU"]
    if cpu:
        lines += ["", f"Ops off the Edge TPU ({len(cpu)}), in execution order:"]
    for o in cpu:
        lines += _op_lines(o, wrap)
        lines.append(f"    status: {o['status'] or o['placement']} [{o['reason_code']}]")
        if o["root_cause"] is not None:
            lines.append(f"    root cause: op #{o['root_cause']}")
        lines += wrap.wrap("why: " + o["explanation"]) + wrap.wrap("fix: " + o["fix"])
    unsure = [o for o in analysis["ops"] if o["placement"] == "TPU"
              and o.get("confidence") == "low"]
    if unsure:
        lines += ["", f"Ops predicted on the Edge TPU with low confidence ({len(unsure)}):"]
        for o in unsure:
            lines += _op_lines(o, wrap)
    return "\n".join(lines + _what_if_lines(s, analysis["ops"]))


def _op_lines(op: dict, wrap: textwrap.TextWrapper) -> list[str]:
    """The op's heading (whole tensor names, never cut) and, when unsure, why."""
    name = op["opcode"] + (f" ({op['custom_code']})" if op["custom_code"] else "")
    where = f"subgraph {op['subgraph']} " if op["subgraph"] else ""
    mark = "? " if op.get("confidence") == "low" else ""
    lines = [f"  {mark}#{op['index']} {where}{name} -> {_names(op['outputs'])}"]
    if mark:
        lines += wrap.wrap("low confidence: " + op["confidence_reason"])
    return lines


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
