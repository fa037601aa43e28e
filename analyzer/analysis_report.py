"""The text of `tpulens analyze`: a model's report (brief, or every op with --details), what a
compiled model holds, and a batch's table with the compiler's output beside the prediction. It
reads analysis JSON; `tpulens analyze --json` never loads it."""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

from tpulens.analyzer import batch, estimate
from tpulens.analyzer.vocabulary import Confidence, Placement, Source, Verdict


def render_report(analysis: dict, details: bool = False,
                  device: str = estimate.DEFAULT_LINK) -> str:
    """The one-model report: a prediction (brief, or every op with `details`), or what a
    compiled model holds; both end their summary with the Edge TPU cost on `device` first."""
    return render_compiled(analysis, device) if analysis["model"]["kind"] == "compiled" \
        else render_text(analysis, details, device)


def _cell(value) -> str:
    return "-" if value is None else str(value)


def render_table(outcomes: list, fail_on: str | None = None) -> str:
    """One row per model: ops, on TPU, on CPU, verdict and low-confidence ops. A compiled twin
    sits under its CPU model with the compiler's counts for that model's ops (and, when it was
    compiled with -a, the prediction with -a under it); what the compiler says of the
    prediction follows the table. Models are counted once, with or without a twin."""
    models = batch.models_of(outcomes)
    rows, notes = [], []
    for model, twin in models:
        rows.append(_table_row(model))
        if twin is not None:
            rows.append(_table_row(twin))
            if not model.analysis["options"].get("enable_multiple_subgraphs"):
                rows += _prediction_row(twin.analysis["compiled_from"])
            notes += twin_lines(twin.path, twin.analysis["compiled_from"], twin.twin_of)
    header = ("model", "source", "ops", "on TPU", "on CPU", "verdict", "low confidence")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i in (0, 1, 5) else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in (header, *rows)]
    if notes:
        lines += ["", "The compiler's output beside the prediction:", *notes]
    verdicts = [model.verdict or "error" for model, _ in models]
    counted = ", ".join(f"{verdicts.count(v)} {v}" for v in
                        (*Verdict, "error") if v in verdicts)
    twins = sum(twin is not None for _, twin in models)
    with_twins = f" ({twins} with a compiled twin)" if twins else ""
    lines += ["", f"{len(models)} model(s){with_twins}: {counted} (predicted)"]
    if fail_on:
        failing = sum(batch.model_at_or_below(model, fail_on) for model in models)
        lines.append(f"--fail-on {fail_on}: {failing} model(s) at or below '{fail_on}' "
                     f"(predicted or compiled)")
    return "\n".join(lines)


def _table_row(o) -> tuple[str, ...]:
    name = f"  {o.path.name}" if o.twin_of else str(o.path)
    if o.error:
        return (name, "-", "-", "-", "-", "error", "-")
    s, kind = o.analysis["summary"], o.analysis["model"]["kind"]
    counts = o.analysis.get("compiled_from") or s
    source = Source.COMPILER if kind == "compiled" else Source.PREDICTED
    if kind == "compiled" and "compiled_from" not in o.analysis:
        source = "compiled file"  # counts of the file's own ops (one per TPU subgraph)
    return (name, source, _cell(counts["ops_total"]), _cell(counts["ops_tpu"]),
            _cell(counts["ops_cpu"]), s["verdict"], _cell(s.get("ops_low_confidence")))


def _prediction_row(twin: dict) -> list[tuple[str, ...]]:
    """The prediction the twin was compared with, when it used flags (-a) the batch's
    prediction did not."""
    p = twin["prediction"]
    if not p["flags"]:
        return []
    return [(f"    with {' '.join(p['flags'])}", Source.PREDICTED, _cell(p["ops_total"]),
             _cell(p["ops_tpu"]), _cell(p["ops_cpu"]), p["verdict"],
             _cell(p["ops_low_confidence"]))]


MAX_DIFFERENCES = 3  # ops named per twin in the text; `tpulens compare` lists every one


def twin_lines(twin_path, twin: dict, cpu_path) -> list[str]:
    """What a compiled twin says of the prediction: how it was compiled (-a), whether the
    prediction agrees on every op, and the ops where it does not."""
    p = twin["prediction"]
    flags = " ".join(p["flags"])
    prediction = f"the prediction with {flags}" if flags else "the prediction"
    how = ""
    if twin["multiple_subgraphs"]:
        how = f"holds {twin['tpu_subgraphs']} Edge TPU subgraphs, which only -a makes"
        how += ": " if flags else f", but compiler {p['compiler_version']} has no -a: "
    differences, others = twin["differences"], twin["summary_differences"]
    if not differences:
        said = f"{prediction} agrees on the placement of all {twin['ops_total']} ops"
    else:
        named = "; ".join(f"#{d['index']} {d['opcode']} predicted {d['predicted_placement']}, "
                          f"compiled {d['actual_placement']}"
                          for d in differences[:MAX_DIFFERENCES])
        more = " …" if len(differences) > MAX_DIFFERENCES else ""
        said = (f"{len(differences)} of {twin['ops_total']} ops differ from {prediction} "
                f"({named}{more})")
    lines = _wrapper("    ", "  ").wrap(f"{Path(twin_path).name}: {how}{said}.")
    lines += [line for text in others
              for line in _wrapper("      ", "    ").wrap(f"differs: {text}")]
    if differences or others:
        lines += _wrapper("      ", "    ").wrap(
            f"details: tpulens compare {cpu_path} --compiled {twin_path}")
    return lines


def render_compiled(analysis: dict, device: str = estimate.DEFAULT_LINK) -> str:
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
        out += twin_lines(analysis["model"]["path"], twin, twin["path"])
    if s["tpu_subgraphs"]:
        out += cost_lines(s.get("estimate"), device)
    out += [f"warning: {w}" for w in analysis["warnings"]]
    return "\n".join(out)


BRIEF_LINES = 60  # the brief report's budget: a terminal screen
WIDTH = 100


def _wrapper(indent: str = "    ", first: str | None = None) -> textwrap.TextWrapper:
    return textwrap.TextWrapper(width=WIDTH, initial_indent=indent if first is None else first,
                                subsequent_indent=indent, break_long_words=False,
                                break_on_hyphens=False)


def summary_lines(analysis: dict, device: str = estimate.DEFAULT_LINK) -> list[str]:
    """The compiler-style summary of a prediction: one line per figure, then the Edge TPU
    cost (parameter memory, latency per device, what dominates)."""
    s = analysis["summary"]
    lines = [
        f"Number of Edge TPU subgraphs: {s['tpu_subgraphs']}",
        f"Total number of operations: {s['ops_total']}",
        f"Number of operations that will run on Edge TPU: {s['ops_tpu']}",
        f"Number of operations that will run on CPU: {s['ops_cpu']}",
    ]
    if s.get("ops_dropped"):
        lines.append(f"Operations that feed no output (dropped): {s['ops_dropped']}")
    if s.get("ops_low_confidence"):
        lines.append(f"Verdicts with low confidence (marked ?): {s['ops_low_confidence']}")
    return lines + cost_lines(s.get("estimate"), device)


def cost_lines(found: dict | None, device: str) -> list[str]:
    wrap = _wrapper("  ", "")
    return [line for text in estimate.text_lines(found, device) for line in wrap.wrap(text)]


def render_text(analysis: dict, details: bool = False, device: str = estimate.DEFAULT_LINK) -> str:
    """The one-model prediction: summary, the compiler's table, then in brief each root cause
    once (with how many ops follow it to the CPU, and its fix), the unsure verdicts by reason,
    the model's notes and the what-ifs; `details` lists every op off the Edge TPU instead."""
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
    if analysis["errors"]:
        lines += ["The compiler would reject the model:"] + [f"  {e}" for e in
                                                              analysis["errors"]]
        if analysis["ops"]:
            lines += [""] + _wrapper("", "").wrap("Fix: " + analysis["ops"][0]["fix"])
        return "\n".join(lines + _what_if_lines(s, analysis["ops"], device))
    lines += summary_lines(analysis, device) + ["", f"{'Operator':<31}{'Count':<11}Status", ""]
    lines += [f"{r['operator']:<31}{r['count']:<11}{r['status']}" for r in analysis["table"]]
    after = _note_lines(s) + _what_if_lines(s, analysis["ops"], device)
    if details:
        return "\n".join(lines + _every_op_lines(analysis["ops"]) + after)
    unsure = _unsure_lines(analysis["ops"])
    hint = ["--details lists every op with its status, why and fix."] \
        if s["ops_cpu"] or unsure else []
    room = BRIEF_LINES - len(lines) - len(after) - len(unsure) - len(hint)
    return "\n".join(lines + _root_cause_lines(analysis["ops"], room) + unsure + after + hint)


def _every_op_lines(ops: list[dict]) -> list[str]:
    """Every op off the Edge TPU with its status, root cause, why and fix; then the mapped ops
    whose verdict is unsure, grouped by reason."""
    wrap = _wrapper()
    lines = []
    cpu = [o for o in ops if o["placement"] != Placement.TPU]
    if cpu:
        lines += ["", f"Ops off the Edge TPU ({len(cpu)}), in execution order:"]
    for o in cpu:
        lines += _op_lines(o, wrap)
        lines.append(f"    status: {o['status'] or o['placement']} [{o['reason_code']}]")
        if o["root_cause"] is not None:
            lines.append(f"    root cause: op #{o['root_cause']}")
        lines += wrap.wrap("why: " + o["explanation"])
        made = [c for c in o.get("culprits") or () if c["op"] == o["index"] and c["producer"]
                is not None]
        if made:
            lines += wrap.wrap("made by: " + ", ".join(
                f"{c['dtype']} {c['tensor']!r} from {c['producer_opcode']} #{c['producer']}"
                for c in made[:3]) + (" …" if len(made) > 3 else ""))
        lines += wrap.wrap("fix: " + o["fix"])
    unsure = [o for o in ops if o["placement"] == Placement.TPU
              and o.get("confidence") == Confidence.LOW]
    if unsure:
        lines += ["", f"Ops predicted on the Edge TPU with low confidence ({len(unsure)}):"]
        for reason, group in _by_reason(unsure).items():
            lines += (_op_lines(group[0], wrap) if len(group) == 1
                      else _group_lines(reason, group, wrap))
    return lines


# Verdicts a rule gave the op itself; the others follow a root cause (or -i, or are dropped).
_FOLLOWING = ("AFTER_PARTITION", "INTERMEDIATE_TENSOR", "DROPPED")


def _root_causes(ops: list[dict]) -> list[tuple[list[dict], int, bool]]:
    """Ops refused by their own rule, grouped by type, status and fix, each group with how many
    later ops follow it to the CPU and whether it is first (no refused op feeds it, directly
    or not: fixing it is the next step); most followed first."""
    followers = Counter(o["root_cause"] for o in ops if o["root_cause"] is not None)
    refused = [o["placement"] == Placement.CPU and o["reason_code"] not in _FOLLOWING
               for o in ops]
    behind = _behind_refused(ops, refused)
    groups: dict[tuple, list[dict]] = {}
    first: dict[tuple, bool] = {}
    for o, own, back in zip(ops, refused, behind, strict=True):
        if own:
            key = (o["subgraph"] > 0, o["opcode"], o["custom_code"], o["status"],
                   o["reason_code"], o["fix"])
            groups.setdefault(key, []).append(o)
            first[key] = first.get(key, False) or not back
    counted = [(group, sum(followers[o["index"]] for o in group if not o["subgraph"]),
                first[key]) for key, group in groups.items()]
    return sorted(counted, key=lambda g: (not g[2], -g[1]))


def _behind_refused(ops: list[dict], refused: list[bool]) -> list[bool]:
    """For every op: is it fed, directly or not, by a refused op of its subgraph?"""
    made: dict[tuple[int, str], int] = {}
    behind = [False] * len(ops)
    for i, o in enumerate(ops):  # execution order: producers come first
        behind[i] = any((j := made.get((o["subgraph"], t["name"]))) is not None
                        and (refused[j] or behind[j]) for t in o["input_tensors"])
        for t in o["output_tensors"]:
            made[(o["subgraph"], t["name"])] = i
    return behind


def _root_cause_lines(ops: list[dict], room: int) -> list[str]:
    """Each root cause once, within `room` lines: the first causes in full (why, culprits,
    fix), the ones behind them in full, on one line each or listed, as room allows; refusals
    that cut nothing off are counted on one line."""
    causes = _root_causes(ops)
    cutting = [c for c in causes if c[1]]
    quiet_groups = [g for g, n, _ in causes if not n]
    quiet = _quiet_lines(quiet_groups, bool(cutting))
    if not cutting:
        fixes = _quiet_fixes(quiet_groups)
        return quiet + (fixes if len(quiet) + len(fixes) <= room else [])
    title = ["", f"Root causes: {sum(len(g) for g, _, _ in cutting)} op(s) refused for their "
             f"own reason cut {sum(n for _, n, _ in cutting)} later op(s) off the Edge TPU:"]
    first = [c for c in cutting if c[2]]
    later = [c for c in cutting if not c[2]]

    def each(causes: list, words: str) -> list[str]:
        return [line for g, n, _ in causes for line in _cause_lines(g, n, words)]

    choices = (  # the most words that fit: the first causes keep theirs longest
        each(first, "fix") + each(later, "fix"),
        each(first, "fix") + each(later, ""),
        each(first, "fix") + _listed(later),
        each(first, "why") + _listed(later),
        each(first, "") + _listed(later),
    )
    room -= len(title) + len(quiet)
    body = next((c for c in choices if len(c) <= room), choices[-1])
    return title + body + quiet


def _listed(causes: list) -> list[str]:
    """Causes behind the first ones, named on one line (the table has the rest)."""
    if not causes:
        return []
    items = [f"{_op_group_name(g)} ({n}{' follow it' if i == 0 else ''})"
             for i, (g, n, _) in enumerate(causes)]
    line = "  then: " + ", ".join(items) + "."
    while len(line) > WIDTH and len(items) > 1:
        items.pop()
        line = "  then: " + ", ".join(items) + ", …"
    return [line]


def _op_group_name(group: list[dict]) -> str:
    name = group[0]["custom_code"] or group[0]["opcode"]
    return f"{name} x{len(group)}" if len(group) > 1 else f"{name} #{group[0]['index']}"


def _cause_lines(group: list[dict], followers: int, words: str) -> list[str]:
    """A root cause: its ops, status and followers; with `words` "why" also what in the op
    breaks the rule (its culprits), with "fix" the fix too."""
    first = group[0]
    where = "subgraph " if first["subgraph"] else ""
    shown = group[:4]
    more = " …" if len(group) > len(shown) else ""
    heading = (f"{_op_group_name(group)} ({where}{_indices(shown)}{more})" if len(group) > 1
               else f"{_op_group_name(group)}" + (f" in subgraph {first['subgraph']}"
                                                   if where else ""))
    follow = (f", {followers} later op(s) follow {'them' if len(group) > 1 else 'it'}"
              if followers else "")
    mark = "? " if any(o["confidence"] == Confidence.LOW for o in group) else ""
    head = f"  {mark}{heading}{follow}: {first['status']}"
    if not words:
        return [head if len(head) <= WIDTH else head[:WIDTH - 2] + " …"]
    wrap = _wrapper()
    detail = first.get("detail") or ""
    return (_wrapper("    ", "").wrap(head) + (wrap.wrap("why: " + detail) if detail else [])
            + (wrap.wrap("fix: " + first["fix"]) if words == "fix" else []))


def _quiet_lines(groups: list[list[dict]], after_causes: bool) -> list[str]:
    """Refused ops that cut nothing off (post-processing at the end, most often), counted by
    type on one line."""
    if not groups:
        return []
    kinds: Counter = Counter()
    for g in groups:
        kinds[g[0]["custom_code"] or g[0]["opcode"]] += len(g)
    more = "more " if after_causes else ""
    text = (f"  {sum(kinds.values())} {more}op(s) refused for their own reason cut nothing off: "
            + ", ".join(f"{k} x{n}" for k, n in kinds.items()))
    line = text if len(text) <= WIDTH else text[:text.rfind(", ", 0, WIDTH - 2)] + ", …"
    return ([] if after_causes else [""]) + [line]


def _quiet_fixes(groups: list[list[dict]]) -> list[str]:
    """The fixes of refused ops that cut nothing off, each once, most shared first."""
    fixes: Counter = Counter()
    for g in groups:
        fixes[g[0]["fix"]] += len(g)
    return [line for fix, n in fixes.most_common()
            for line in _wrapper("    ", "  ").wrap(f"fix ({n} op(s)): {fix}")]


def _unsure_lines(ops: list[dict]) -> list[str]:
    """The unsure verdicts, counted by reason (the reason of the first op of each kind)."""
    unsure = [o for o in ops if o.get("confidence") == Confidence.LOW]
    if not unsure:
        return []
    kinds: dict[str, list[dict]] = {}
    for o in unsure:
        kinds.setdefault(_reason_kind(o["confidence_reason"]), []).append(o)
    lines = ["", f"Low-confidence verdicts ({len(unsure)}), by reason:"]
    for group in kinds.values():
        counted = ", ".join(f"{k} x{n}" for k, n in Counter(o["opcode"] for o in group)
                            .most_common())
        lines += _wrapper("    ", "  ? ").wrap(
            f"{len(group)} op(s) ({counted}), e.g. #{group[0]['index']}: "
            f"{group[0]['confidence_reason']}")
    return lines


def _reason_kind(reason: str) -> str:
    """What an unsure reason says, without the op and numbers it names."""
    head = reason.split(":")[0].split("(")[0]
    return " ".join(w for w in head.split() if not w.startswith("#") and not w[:1].isdigit())


def _note_lines(summary: dict) -> list[str]:
    notes = summary.get("notes") or []
    if not notes:
        return []
    lines = ["", "Notes on the evidence:"]
    for note in notes:
        lines += _wrapper("    ", "  - ").wrap(note)
    return lines


def _op_lines(op: dict, wrap: textwrap.TextWrapper) -> list[str]:
    """The op's heading (whole tensor names, never cut) and, when unsure, why."""
    name = op["opcode"] + (f" ({op['custom_code']})" if op["custom_code"] else "")
    where = f"subgraph {op['subgraph']} " if op["subgraph"] else ""
    mark = "? " if op.get("confidence") == Confidence.LOW else ""
    outputs = [t["name"] for t in op["output_tensors"]]
    lines = [f"  {mark}#{op['index']} {where}{name} -> {_names(outputs)}"]
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


def _what_if_lines(summary: dict, ops: list[dict],
                   device: str = estimate.DEFAULT_LINK) -> list[str]:
    cases = summary.get("what_if") or []
    if not cases:
        return []
    lines = ["What if (predicted the same way):"]
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
            text += f", {case['ops_low_confidence']} low-confidence"
        if case.get("blocking"):
            text += "; still blocking: " + ", ".join(case["blocking"])
        latency = (case.get("latency_ms") or {}).get(device)
        if latency is not None:
            text += f"; {estimate.ms_text(latency)} ms on {estimate.link_name(device)}"
        lines += _wrapper("    ", "  ").wrap(f"{case['label']}: {text}")
    return lines
