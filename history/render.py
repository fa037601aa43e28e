"""A Diff as plain text, as Markdown for a pull-request comment or a GitHub job summary, or as
JSON. Regressions come first, worst first; findings (a machine shift: why rows were not judged)
are named once; the detail of every variant that changed sits in collapsible sections.

Every value a record or analysis supplies reaches the Markdown as a code span (`_cell` in a table,
`_inline` elsewhere): no raw HTML, comment, link, image, mention or heading can come from a
result file, a line break cannot end a row, and each value is cut to MAX_VALUE characters. HTML
lines (<details>, <summary>) hold only the tool's own words and numbers. The whole comment stays
under MARKDOWN_BUDGET characters, whatever the number or size of the parts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from tpulens.analyzer.vocabulary import Change, Placement
from tpulens.history.diff import Diff, MetricChange, VariantDiff, largest_first

FORMATS = ("text", "markdown", "json")
METRIC_COLUMNS = ("variant", "metric", "base", "head", "change", "threshold", "p", "verdict",
                  "note")
MARKDOWN_BUDGET = 60_000  # characters: GitHub cuts comments and job summaries at 65,536
MAX_VALUE = 200  # characters of one value from a result file
MAX_LISTED = 10  # values of one environment key, runs of one side
CUT_NOTE = ("Cut to fit a pull-request comment: {n} variant(s) or section(s) left out or shown "
            "in part; `tpulens diff --format json` has everything.")
# Line breaks and other characters that end a line or steer a terminal.
BREAKS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def render(diff: Diff, fmt: str) -> str:
    return {"text": text, "markdown": markdown, "json": as_json}[fmt](diff)


def as_json(diff: Diff) -> str:
    return json.dumps(diff.to_json(), indent=2, sort_keys=True)


def headline(diff: Diff) -> str:
    """Counts and the tool's own words only: it heads the Markdown, outside any code span."""
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
    if diff.findings:
        parts.append(f"{len(diff.findings)} finding(s)")
    parts += [f"{counts[c]} {c}" for c in (Change.BETTER, Change.CHANGED, Change.UNCHANGED,
                                           Change.NOT_JUDGED) if counts[c]]
    parts.append(f"{len(diff.variants)} variants compared")
    return ", ".join(parts)


def text(diff: Diff) -> str:
    lines = [f"tpulens diff: {headline(diff)}",
             f"base: {_plain(diff.base_label)} ({_runs(diff.base_runs, _plain)})",
             f"head: {_plain(diff.head_label)} ({_runs(diff.head_runs, _plain)})"]
    if diff.findings:
        lines += ["", "Findings (not regressions; rows they cover are not judged):"]
        lines += [f"  {_plain(note, None)} ({rows} rows)" for note, rows in diff.findings]
    for title, rows in (("Regressions", diff.regressions), ("Improvements", _improvements(diff))):
        if rows:
            lines += ["", f"{title}:"]
            lines += [f"  {_plain(v.name)}  {_metric_line(m)}" for v, m in rows]
    for v in diff.variants:
        if v.status_regressed:
            lines += ["", f"{_plain(v.name)}: {_plain(v.base_status)} → {_plain(v.head_status)}"]
    for v in diff.variants:
        if v.moved_ops:
            lines += ["", f"{_plain(v.name)}: {_moved_summary(v)} "
                          f"({_plain(v.placement_source)})"]
            lines += [f"  op {op.index} {_plain(op.opcode)} {op.base_placement} → "
                      f"{op.head_placement}: {_plain(_cpu_status(op))}"
                      + (f" (root cause: {_plain(op.root_cause)})" if op.root_cause else "")
                      for op in v.moved_ops]
    if diff.environment:
        lines += ["", "Environment differences:"]
        lines += [f"  {_plain(e.key)}: {_values(e.base, _plain)} → {_values(e.head, _plain)}"
                  for e in diff.environment]
    for title, names in (("Added", diff.added), ("Removed", diff.removed)):
        if names:
            lines += ["", f"{title} variants: {', '.join(_plain(n) for n in names)}"]
    notes = [(v.name, n) for v in diff.variants for n in v.notes]
    if notes:
        lines += ["", "Notes:"] + [f"  {_plain(name)}: {_plain(note)}" for name, note in notes]
    return "\n".join(lines)


def markdown(diff: Diff, budget: int = MARKDOWN_BUDGET) -> str:
    """Sections in order of importance; once a row or section would pass `budget` characters,
    it and every row after it are left out, and a last line says how many that cut."""
    mark = "❌" if diff.regressed else "✅"
    out = [f"### {mark} tpulens diff: {headline(diff)}", "",
           f"Base {_inline(diff.base_label)} ({_runs(diff.base_runs, _inline)}) → head "
           f"{_inline(diff.head_label)} ({_runs(diff.head_runs, _inline)})", ""]
    room = budget - len(CUT_NOTE) - 20
    used, left_out = _size(out), set()
    for number, section in enumerate(_sections(diff)):
        kept = []
        for name, rows in section.rows:
            if left_out or used + _size(section.head + kept + rows + section.tail) > room:
                left_out.add(name)
            else:
                kept += rows
        lines = section.head + kept + section.tail
        if (kept or not section.rows) and used + _size(lines) <= room:
            out += lines
            used += _size(lines)
        elif not section.rows:
            left_out.add(f"section {number}")
    if left_out:
        out.append(CUT_NOTE.format(n=len(left_out)))
    return "\n".join(out).rstrip() + "\n"


@dataclass
class _Section:
    """Markdown lines around rows that belong to variants (rows: (variant name, lines))."""

    head: list[str]
    rows: list[tuple[str, list[str]]] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)


def _sections(diff: Diff) -> list[_Section]:
    sections = []
    if diff.findings:
        sections.append(_Section(
            ["**Findings** (not regressions; the rows they cover are not judged)", ""],
            [(f"finding {i}", [f"- {_inline(note)} ({rows} rows)"])
             for i, (note, rows) in enumerate(diff.findings)], [""]))
    failed = [v for v in diff.variants if v.status_regressed]
    if failed:
        sections.append(_Section(
            ["**Variants that are no longer ok**", "", "| variant | base | head | notes |",
             "|---|---|---|---|"],
            [(v.name, [f"| {_cell(v.name)} | {_cell(v.base_status)} | {_cell(v.head_status)} "
                       f"| {_cell('; '.join(v.notes))} |"]) for v in failed], [""]))
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
             "| | base | head |", "|---|---|---|"],
            [(f"environment {e.key}", [f"| {_cell(e.key)} | {_values(e.base, _cell)} | "
                                       f"{_values(e.head, _cell)} |"]) for e in diff.environment],
            [""]))
    for title, names in (("Variants added", diff.added), ("Variants removed", diff.removed)):
        if names:
            sections.append(_Section([f"**{title}**", ""],
                                     [(n, [f"- {_inline(n)}"]) for n in names], [""]))
    changed = [v for v in diff.variants if _shown(v) or v.notes]
    if changed:
        sections.append(_Section(
            [f"<details><summary>Detail: {len(changed)} variant(s) with changes or notes "
             "(changed metrics only)</summary>", ""],
            [(v.name, _variant_detail(v)) for v in changed], ["</details>", ""]))
    quiet = len(diff.variants) - len(changed)
    if quiet:
        sections.append(_Section([f"{quiet} variant(s) with every metric unchanged or covered "
                                  "by a finding.", ""]))
    return sections


def _shown(v: VariantDiff) -> list[MetricChange]:
    """The metrics a variant's detail lists: changed ones, and those not judged for a reason
    of their own (those a finding covers are named by it)."""
    return [m for m in v.metrics if m.change != Change.UNCHANGED and not m.covered]


def _placement_details(v: VariantDiff) -> list[str]:
    return ([f"{_inline(v.name)}: {_moved_summary(v)} (analyses: {_inline(v.placement_source)})",
             "", "<details><summary>The ops that moved</summary>", "",
             "| op | opcode | output | placement | status | root cause |",
             "|---|---|---|---|---|---|"]
            + [f"| {op.index} | {_cell(op.opcode)} | {_cell(op.output)} | "
               f"{op.base_placement} → {op.head_placement} | {_cell(_cpu_status(op))} | "
               f"{_cell(op.root_cause)} |" for op in v.moved_ops]
            + ["", "</details>", ""])


def _variant_detail(v: VariantDiff) -> list[str]:
    changed = [(v, m) for m in _shown(v)]
    lines = [f"#### {_inline(v.name)}", ""]
    if changed:
        lines += _metric_table(changed) + [""]
    return lines + [f"- {_inline(n)}" for n in v.notes] + ([""] if v.notes else [])


def _size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _improvements(diff: Diff) -> list[tuple[VariantDiff, MetricChange]]:
    return largest_first([(v, m) for v in diff.variants for m in v.metrics
                          if m.change == Change.BETTER])


def _metric_table(rows: list[tuple[VariantDiff, MetricChange]]) -> list[str]:
    out = ["| " + " | ".join(METRIC_COLUMNS) + " |", "|" + "---|" * len(METRIC_COLUMNS)]
    for v, m in rows:
        cells = [_cell(v.name), _cell(m.metric + (f" ({m.unit})" if m.unit else "")),
                 _number(m.base), _number(m.head), _change(m), m.threshold, _p(m.p_value),
                 f"**{m.change}**" if m.change == Change.WORSE else str(m.change),
                 _cell(m.note) if m.note else ""]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _metric_line(m: MetricChange) -> str:
    p = f", p {_p(m.p_value)}" if m.p_value is not None else ""
    return (f"{_plain(m.metric)}: {_number(m.base)} → {_number(m.head)} ({_change(m)}; "
            f"threshold {m.threshold}{p}) {m.change}" + (f" [{_plain(m.note)}]" if m.note
                                                         else ""))


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


def _listed(items: list[str], show, empty: str) -> str:
    """At most MAX_LISTED items, each through `show`, then how many more; `empty` if none."""
    if not items:
        return empty
    more = f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return ", ".join(show(i) for i in items[:MAX_LISTED]) + more


def _runs(runs: list[str], show) -> str:
    return _listed(runs, show, "no runs")


def _values(values: list[str], show) -> str:
    return _listed(values, show, "(none)")


def _plain(value: object, limit: int | None = MAX_VALUE) -> str:
    """One printable line: no line breaks or terminal controls, no lone surrogates, cut to
    `limit` characters."""
    out = BREAKS.sub(" ", str(value)).encode("utf-8", "replace").decode("utf-8")
    return out if limit is None or len(out) <= limit else out[:limit - 1] + "…"


def _inline(value: object) -> str:
    """A value from a result file as a Markdown code span: shown as written, never rendered."""
    content = _plain(value)
    if not content.strip():
        return "–"
    fence = "`" * (max((len(run) for run in re.findall("`+", content)), default=0) + 1)
    return f"{fence} {content} {fence}"


def _cell(value: object) -> str:
    """A code span in a table cell: a pipe is escaped, as GFM tables need even in code."""
    return _inline(value).replace("|", "\\|")
