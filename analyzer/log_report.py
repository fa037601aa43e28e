"""Render a parsed compiler log (logs.py) as a short text report."""

from __future__ import annotations

from tpulens.analyzer.logs import ParsedLog

_COMPLETENESS = {True: "complete", False: "INCOMPLETE", None: "completeness not verified"}


def render_text(log: ParsedLog) -> str:
    """Per model: summary lines and the operator table; then errors (each with its hint) and
    warnings."""
    out = [f"kind: {log.kind}   compiler: {log.compiler_version or 'unknown'}"]
    if log.command:
        out.append(f"command: {log.command['line']}")
    if log.delegate_search:
        tried = ", ".join(str(n) for n in log.delegate_search["segments_tried"])
        out.append(f"delegate search: step {log.delegate_search['step']}, segments tried: "
                   f"{tried or 'none'}")
    if log.compiled is not None:
        out.append("compilation: " + ("succeeded" if log.compiled else "FAILED"))
    for model in log.models:
        out.append("")
        out.append(f"model: {model.name}" + (f" -> {model.output_model}"
                                              if model.output_model else ""))
        for key, value in model.summary.items():
            if not key.endswith("_bytes"):
                out.append(f"  {key}: {value}")
        if model.rows:
            width = max(len("Operator"), *(len(r.operator) for r in model.rows)) + 2
            out.append(f"  {'Operator'.ljust(width)}{'Count':<7}Status")
            out.extend(f"  {r.operator.ljust(width)}{r.count:<7}{r.status}" for r in model.rows)
            out.append(f"  ({model.ops_in_table} ops in table, {model.mapped_in_table} mapped; "
                       f"table {_COMPLETENESS[model.complete]})")
    for error in log.errors:
        out.append(f"error [{error['code']}]: {error['message']}")
        if error.get("hint"):
            out.append(f"  hint: {error['hint']}")
    for warning in log.warnings:
        out.append(f"warning: {warning}")
    return "\n".join(out)
