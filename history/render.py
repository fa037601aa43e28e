"""A Diff as plain text, as Markdown for a pull-request comment or a GitHub job summary, or as
JSON. Regressions come first, worst first; the detail of every variant that changed (its changed
metrics) sits in collapsible sections, and the Markdown is cut to fit a pull-request comment."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tpulens.analyzer.vocabulary import Change, Placement
from tpulens.history.diff import Diff, MetricChange, VariantDiff, largest_first

FORMATS = ("text", "markdown", "json")
METRIC_COLUMNS = ("variant", "metric", "base", "head", "change", "threshold", "p", "verdict")
MARKDOWN_BUDGET = 60_000  # characters: GitHub cuts comments and job summaries at 65,536


def render(diff: Diff, fmt: str) -> str:
    return {"text": text, "markdown": markdown, "json": as_json}[fmt](diff)


def as_json(diff: Diff) -> str:
    return json.dumps(diff.to_json(), indent=2, sort_keys=True)


def headline(diff: Diff) -> str:
    counts = diff.counts()
    failed = [v for v in diff.variants if v.status_regressed]
    moved = [v for v in diff.variants if v.moved_to_cpu]
    regressed = {v.name for v, _ in diff.regressions} | {v.name for v in failed}
    parts = []
    if diff.regressions:
        parts.append(f"{len(diff.regressions)} regression(s) in {len(regressed)} variant(s)")
    if failed:
        parts.append(f"{len(failed)} variant(s) no longer ok")
    if moved:
        parts.append(f"{len(moved)} variant(s) with ops moved to the CPU")
    if not parts:
        parts.append("no regressions")
    parts += [f"{counts[c]} {c}" for c in (Change.BETTER, Change.CHANGED, Change.UNCHANGED,
                                           Change.NOT_JUDGED) if counts[c]]
    parts.append(f"{len(diff.variants)} variants compared")
    return ", ".join(parts)


def text(diff: Diff) -> str:
    lines = [f"tpulens diff: {headline(diff)}",
             f"base: {diff.base_label} ({', '.join(diff.base_runs) or 'no runs'})",
             f"head: {diff.head_label} ({', '.join(diff.head_runs) or 'no runs'})"]
    for title, rows in (("Regressions", diff.regressions), ("Improvements", _improvements(diff))):
        if rows:
            lines += ["", f"{title}:"]
            lines += [f"  {v.name}  {_metric_line(m)}" for v, m in rows]
    for v in diff.variants:
        if v.status_regressed:
            lines += ["", f"{v.name}: {v.base_status} → {v.head_status}"]
    for v in diff.variants:
        if v.moved_ops:
            lines += ["", f"{v.name}: {_moved_summary(v)} ({v.placement_source})"]
            lines += [f"  op {op.index} {op.opcode} {op.base_placement} → {op.head_placement}: "
                      f"{_cpu_status(op)}" + (f" (root cause: {op.root_cause})"
                                              if op.root_cause else "") for op in v.moved_ops]
    if diff.environment:
        lines += ["", "Environment differences:"]
        lines += [f"  {e.key}: {_values(e.base)} → {_values(e.head)}" for e in diff.environment]
    for title, names in (("Added", diff.added), ("Removed", diff.removed)):
        if names:
            lines += ["", f"{title} variants: {', '.join(names)}"]
    notes = [(v.name, n) for v in diff.variants for n in v.notes]
    if notes:
        lines += ["", "Notes:"] + [f"  {name}: {note}" for name, note in notes]
    return "\n".join(lines)


def markdown(diff: Diff, budget: int = MARKDOWN_BUDGET) -> str:
    """Sections in order of importance; once a row would pass `budget` characters, it and
    everything after it are left out, and a last line says how many variants that cut."""
    mark = "❌" if diff.regressed else "✅"
    out = [f"### {mark} tpulens diff: {headline(diff)}", "",
           f"Base `{_code(diff.base_label)}` ({_md(', '.join(diff.base_runs) or 'no runs')}) "
           f"→ head `{_code(diff.head_label)}` "
           f"({_md(', '.join(diff.head_runs) or 'no runs')})", ""]
    used, left_out = _size(out), set()
    for section in _sections(diff):
        kept = []
        for name, rows in section.rows:
            if left_out or used + _size(section.head + kept + rows + section.tail) > budget:
                left_out.add(name)
            else:
                kept += rows
        lines = section.head + kept + section.tail
        if kept or (not section.rows and used + _size(lines) <= budget):
            out += lines
            used += _size(lines)
    if left_out:
        out.append(f"Cut to fit a pull-request comment: {len(left_out)} variant(s) left out "
                   "or shown in part; `tpulens diff --format json` has everything.")
    return "\n".join(out).rstrip() + "\n"


@dataclass
class _Section:
    """Markdown lines around rows that belong to variants (rows: (variant name, lines))."""

    head: list[str]
    rows: list[tuple[str, list[str]]] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)


def _sections(diff: Diff) -> list[_Section]:
    sections = []
    failed = [v for v in diff.variants if v.status_regressed]
    if failed:
        sections.append(_Section(
            ["**Variants that are no longer ok**", "", "| variant | base | head | notes |",
             "|---|---|---|---|"],
            [(v.name, [f"| {_md(v.name)} | {v.base_status} | {v.head_status} | "
                       f"{_md('; '.join(v.notes))} |"]) for v in failed], [""]))
    for title, rows in (("Regressions", diff.regressions), ("Improvements", _improvements(diff))):
        if rows:
            sections.append(_Section([f"**{title}**", ""] + _metric_table([]),
                                     [(v.name, _metric_table([(v, m)])[2:]) for v, m in rows],
                                     [""]))
    moved = [v for v in diff.variants if v.moved_ops]
    if moved:
        sections.append(_Section(["**Edge TPU placement changes**", ""],
                                 [(v.name, _placement_details(v)) for v in moved]))
    if diff.environment:
        sections.append(_Section(
            ["**Environment differences** (they explain many changes)", "",
             "| | base | head |", "|---|---|---|"]
            + [f"| {_md(e.key)} | {_md(_values(e.base))} | {_md(_values(e.head))} |"
               for e in diff.environment] + [""]))
    for title, names in (("Variants added", diff.added), ("Variants removed", diff.removed)):
        if names:
            sections.append(_Section([f"**{title}:** " + ", ".join(_md(n) for n in names), ""]))
    changed = [v for v in diff.variants
               if any(m.change != Change.UNCHANGED for m in v.metrics) or v.notes]
    if changed:
        sections.append(_Section(
            [f"<details><summary>Detail: {len(changed)} variant(s) with changes or notes "
             "(changed metrics only)</summary>", ""],
            [(v.name, _variant_detail(v)) for v in changed], ["</details>", ""]))
    quiet = len(diff.variants) - len(changed)
    if quiet:
        sections.append(_Section([f"{quiet} variant(s) with every metric unchanged.", ""]))
    return sections


def _placement_details(v: VariantDiff) -> list[str]:
    return ([f"<details><summary>{_md(v.name)}: {_moved_summary(v)} "
             f"({v.placement_source})</summary>", "",
             "| op | opcode | output | placement | status | root cause |",
             "|---|---|---|---|---|---|"]
            + [f"| {op.index} | {_md(op.opcode)} | `{_code(op.output)}` | "
               f"{op.base_placement} → {op.head_placement} | {_md(_cpu_status(op))} | "
               f"{_md(op.root_cause)} |" for op in v.moved_ops]
            + ["", "</details>", ""])


def _variant_detail(v: VariantDiff) -> list[str]:
    changed = [(v, m) for m in v.metrics if m.change != Change.UNCHANGED]
    lines = [f"#### {_md(v.name)}", ""]
    if changed:
        lines += _metric_table(changed) + [""]
    return lines + [f"- {_md(n)}" for n in v.notes] + ([""] if v.notes else [])


def _size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _improvements(diff: Diff) -> list[tuple[VariantDiff, MetricChange]]:
    return largest_first([(v, m) for v in diff.variants for m in v.metrics
                        if m.change == Change.BETTER])


def _metric_table(rows: list[tuple[VariantDiff, MetricChange]]) -> list[str]:
    out = ["| " + " | ".join(METRIC_COLUMNS) + " |", "|" + "---|" * len(METRIC_COLUMNS)]
    for v, m in rows:
        cells = [_md(v.name), f"{_md(m.metric)}" + (f" ({_md(m.unit)})" if m.unit else ""),
                 _number(m.base), _number(m.head), _change(m), m.threshold, _p(m.p_value),
                 f"**{m.change}**" if m.change == Change.WORSE else str(m.change)]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _metric_line(m: MetricChange) -> str:
    p = f", p {_p(m.p_value)}" if m.p_value is not None else ""
    return (f"{m.metric}: {_number(m.base)} → {_number(m.head)} ({_change(m)}; threshold "
            f"{m.threshold}{p}) {m.change}" + (f" [{m.note}]" if m.note else ""))


def _moved_summary(v: VariantDiff) -> str:
    to_cpu = sum(op.head_placement != Placement.TPU for op in v.moved_ops)
    to_tpu = len(v.moved_ops) - to_cpu
    parts = ([f"{to_cpu} op(s) moved to the CPU"] if to_cpu else []) + \
        ([f"{to_tpu} op(s) moved to the Edge TPU"] if to_tpu else [])
    return ", ".join(parts)


def _cpu_status(op) -> str:
    """The compiler status that explains the CPU side of the move."""
    return op.head_status if op.head_placement != Placement.TPU else f"was: {op.base_status}"


def _change(m: MetricChange) -> str:
    relative = f" ({m.relative:+.1%})" if m.relative is not None else ""
    return f"{_number(m.absolute, signed=True)}{relative}"


def _number(value: float, signed: bool = False) -> str:
    sign = "+" if signed else ""
    if float(value).is_integer() and abs(value) >= 1:
        return f"{value:{sign},.0f}"
    return f"{value:{sign}.4g}"


def _p(p_value: float | None) -> str:
    if p_value is None:
        return ""
    return "<0.001" if p_value < 0.001 else f"{p_value:.3f}"


def _values(values: list[str]) -> str:
    return ", ".join(values) if values else "(none)"


def _md(text: str) -> str:
    """Text for a Markdown table cell: names come from user files and may hold | or HTML."""
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("\n", " "))


def _code(text: str) -> str:
    return str(text).replace("`", "'").replace("|", "\\|").replace("\n", " ")
