"""Print the Edge TPU rule reference from the rule table, with each rule's evidence: its kind,
its citations and how many corpus ops confirm it.

`tpulens rules` prints it for a terminal (80 columns); `tpulens rules OP...` only the rows of
those ops (TFLite or Coral names, any case), with the rules every op must pass; `--markdown`
prints the reference as docs/SUPPORTED_OPS.md holds it; `--json` the table itself. An op the
Edge TPU does not run gets its status and what to use instead.
"""

from __future__ import annotations

import textwrap

from tpulens.analyzer.compilers import DEFAULT_COMPILER

HELP = "print the Edge TPU rule reference (with each rule's evidence) from the rule table"
WIDTH = 80
CORPUS_PREFIXES = ("pairs/", "logs/", "cpu_with_log/")


def add_arguments(parser) -> None:
    parser.add_argument("ops", nargs="*", metavar="OP",
                        help="only these ops (e.g. RESIZE_BILINEAR or ResizeBilinear)")
    parser.add_argument("--compiler-version", default=DEFAULT_COMPILER, metavar="V",
                        help=f"compiler whose rules to print (default {DEFAULT_COMPILER})")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the table as JSON")
    output.add_argument("--markdown", action="store_true",
                        help="print the whole reference as markdown (docs/SUPPORTED_OPS.md)")


def run(args) -> int:
    import json

    from tpulens.analyzer import reference
    from tpulens.analyzer.compilers import get_compiler

    compiler = get_compiler(args.compiler_version)
    rows = reference.supported_ops(compiler.version)
    if args.markdown:
        print(reference.markdown(compiler.version), end="")
        return 0
    wanted = [find_op(name, rows) for name in args.ops]
    if args.json:
        ops = [r for r in rows if r["section"] == "op" and r["opcode"] in wanted] \
            if args.ops else rows
        known = {r["opcode"] for r in ops}
        print(json.dumps({"general": reference.general_rules(), "ops": ops,
                          "unsupported": [unsupported(w) for w in wanted if w not in known]},
                         indent=1))
        return 0
    print(render(rows, wanted if args.ops else None, compiler.version))
    return 0


def find_op(name: str, rows: list[dict]) -> str:
    """The TFLite op name for a TFLite or Coral name, in any case (unknown names kept, in
    upper case: they are ops the Edge TPU does not run)."""
    key = name.replace("-", "_").upper()
    for row in rows:
        if row["section"] == "op" and key in (row["opcode"], row["coral_name"].upper()):
            return row["opcode"]
    return key


def unsupported(opcode: str) -> dict:
    from tpulens.analyzer import rules

    refused = next(r for r in rules.RULES if r.reason_code == "UNSUPPORTED_OP")
    return {"opcode": opcode, "status": refused.status, "fix": refused.fix_for(opcode)}


def render(rows: list[dict], only: list[str] | None, compiler_version: str) -> str:
    """The reference for a terminal: every op (or the ones asked for) with its constraints,
    then the rules for every op, each rule's text, fix and evidence wrapped to 80 columns."""
    ops = [r for r in rows if r["section"] == "op" and (only is None or r["opcode"] in only)]
    out = [f"Edge TPU rules, compiler {compiler_version} (tpulens rules --markdown: the "
           "whole reference)"]
    for row in ops:
        needs = "all runtimes" if row["min_runtime"] <= min(
            r["min_runtime"] for r in rows if r["section"] == "op") \
            else f"runtime {row['min_runtime']}+"
        if not row["available"]:
            needs += f", not with compiler {compiler_version}"
        out += ["", f"{row['opcode']} ({row['coral_name']}; {needs})"]
        if row["note"]:
            out += _wrap(row["note"], "  ")
        if not row["constraints"]:
            out.append("  no rule of its own")
        for entry in row["constraints"]:
            out += _entry_lines(entry)
    for opcode in only or ():
        if opcode not in {r["opcode"] for r in ops}:
            info = unsupported(opcode)
            out += ["", f"{opcode}: not an Edge TPU operation ({info['status']})"]
            out += _wrap("fix: " + info["fix"], "  ")
    general = [r for r in rows if r["section"] != "op"]
    if only is None:
        current = None
        for row in general:
            if row["section"] != current:
                current = row["section"]
                out += ["", f"== {current}"]
            out += _entry_lines(row["constraints"][0])
    else:
        out += ["", "Every op must also pass: " + ", ".join(
            r["opcode"] for r in general if r["section"] == "Rules for every op")
            + " (tpulens rules: their text)."]
    return "\n".join(line for block in out for line in _fit(block))


def _entry_lines(entry: dict) -> list[str]:
    status = f": {entry['status']}" if entry["status"] else ""
    lines = _wrap(f"{entry['reason_code']}{status}", "  ", "    ")
    lines += _wrap(entry["text"], "    ")
    if entry["fix"]:
        lines += _wrap("fix: " + entry["fix"], "    ")
    return lines + _wrap("evidence: " + evidence_text(entry), "    ")


def evidence_text(entry: dict) -> str:
    """Kind, citations (corpus items counted, not named) and the corpus ops that confirm it;
    "no corpus op seen" when the corpus has none of its verdicts."""
    ev, counts = entry["evidence"], entry["corpus_ops"]
    cited = [c for c in ev["citations"] if not c.startswith(CORPUS_PREFIXES)]
    items = len(ev["citations"]) - len(cited)
    if items:
        cited.append(f"{items} corpus item{'s' if items > 1 else ''}")
    seen = counts["agree"] + counts["disagree"]
    corpus = (f"{counts['agree']} of {seen} corpus ops agree" if seen
              else "no corpus op seen")
    return f"{ev['kind']} ({', '.join(cited)}); {corpus}"


def _wrap(text: str, indent: str, subsequent: str | None = None) -> list[str]:
    return textwrap.wrap(text, width=WIDTH, initial_indent=indent,
                         subsequent_indent=subsequent or indent, break_long_words=False,
                         break_on_hyphens=False) or [indent.rstrip()]


def _fit(line: str) -> list[str]:
    """A line within 80 columns: a word longer than that (a long citation) on its own line
    is the only thing left longer."""
    return [line] if len(line) <= WIDTH else _wrap(line, "", "    ")
