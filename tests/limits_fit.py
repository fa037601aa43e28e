"""The corpus evidence behind the analyzer's fitted size limits, and the cross-source check.

For each rule with an empirical Limit, every corpus op of the types it applies to is evidence:
mapped ops bound the limit from below, ops the rule refuses where the compiler agrees and whose
producers were all mapped (the refusal is the op's own) bound it from above. A threshold is the
geometric middle of the two bounds of its deciding measure.

An op's placement comes from the compiled model of a pair, or, for a CPU model that has only
the compiler's log, from the log: where every op of one type shares one status row (and the row
counts them all), each of those ops has that status.

Leave one source out: refit every threshold without one source folder (`pairs/<repo>@<commit>`),
predict that folder's items, and add up over all folders. A limit whose refusals all come from
the held-out folder cannot be fitted at all and is switched off for it.
"""

from __future__ import annotations

import dataclasses
import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tpulens.analyzer import corpus_agreement as agreement
from tpulens.analyzer import rules
from tpulens.analyzer.analyze import analyze_model, make_options, to_json
from tpulens.analyzer.logs import parse_log_file
from tpulens.analyzer.model import Model, read_model
from tpulens.analyzer.vocabulary import Status

# The constant in rules.tables each fitted rule compares against (patched for the refit).
THRESHOLDS = {"transpose_size": "TRANSPOSE_MAX_ELEMENTS", "reshape_size": "RESHAPE_MAX_ELEMENTS",
              "row_size": "ROW_MAX", "bilinear_resize_ratio": "RESIZE_MAX_UPSCALE"}


@dataclass
class Point:
    rule: str
    source: str
    where: str  # corpus path#op
    value: int  # the rule's limit measure
    refused: bool


def fitted_rules() -> list[rules.Rule]:
    return [r for r in rules.RULES if r.limit is not None]


def log_truth(corpus: Path, row: dict, cpu: Model) -> dict:
    """(0, op index) -> placement for the main-subgraph ops whose type has a single status row
    in the compiler's log, counting every op of that type."""
    log = parse_log_file(corpus / row["log"])
    model_log = log.model_for(row["cpu_model"]) or (log.models[0] if log.models else None)
    if model_log is None:
        return {}
    statuses: dict[str, list] = {}
    for (operator, status), count in model_log.histogram().items():
        statuses.setdefault(operator, []).append((status, count))
    ops = cpu.subgraphs[0].operators
    placement = {}
    for opcode in {op.opcode for op in ops}:
        rows = statuses.get(opcode, [])
        if len(rows) == 1 and rows[0][1] == sum(op.opcode == opcode for op in ops):
            placement[opcode] = "TPU" if rows[0][0] == Status.MAPPED else "CPU"
    return {(0, op.index): placement[op.opcode] for op in ops if op.opcode in placement}


def truth_of(corpus: Path, row: dict, cpu: Model) -> dict:
    """Known placements: from the compiled model when there is one, else from the log."""
    if row.get("edgetpu_model"):
        return agreement.name_truth(cpu, read_model(corpus / row["edgetpu_model"]))
    return log_truth(corpus, row, cpu) if row.get("log") else {}


def evidence(corpus: Path) -> list[Point]:
    points = []
    for row in agreement.rows(corpus):
        cpu = read_model(corpus / row["cpu_model"])
        truth = truth_of(corpus, row, cpu)
        if not truth:
            continue
        options = make_options(row["compiler_version"])
        sg = cpu.subgraphs[0]
        made = {t: op.index for op in sg.operators for t in op.outputs}
        analysis = to_json(analyze_model(cpu, options, what_if=False))
        for op, verdict in zip(sg.operators, analysis["ops"], strict=True):
            ctx = rules.OpContext(cpu, sg, op, options.compiler, options.runtime)
            place = truth.get((0, op.index))
            frontier = all(truth.get((0, made[t])) == "TPU" for t in op.inputs if t in made)
            for r in fitted_rules():
                if not r.applies_to(op.opcode):
                    continue
                refused = (verdict["reason_code"] == r.reason_code and place == "CPU"
                           and frontier)
                if place == "TPU" or refused:
                    points.append(Point(r.name, row["cpu_model"].split("/")[1],
                                        f"{row['cpu_model']}#{op.index}",
                                        r.limit.of(ctx), refused))
    return points


def envelope(points: list[Point], rule: str, held_out: str | None = None) -> tuple:
    """(largest value seen mapped, smallest seen refused), None where unseen."""
    kept = [p for p in points if p.rule == rule and p.source != held_out]
    return (max((p.value for p in kept if not p.refused), default=None),
            min((p.value for p in kept if p.refused), default=None))


def threshold(bounds: tuple) -> float:
    """The geometric middle of (largest mapped, smallest refused); inf without a refusal."""
    lo, hi = bounds
    if hi is None:
        return math.inf
    return math.sqrt(max(lo or 1, 1) * hi)


@contextmanager
def refitted(points: list[Point], held_out: str):
    """The analyzer with every fitted limit refitted without `held_out`: thresholds and the
    bounds that decide confidence."""
    saved_rules, saved = list(rules.RULES), {}
    try:
        for i, r in enumerate(saved_rules):
            if r.limit is None:
                continue
            lo, hi = envelope(points, r.name, held_out)
            name = THRESHOLDS[r.name]
            saved[name] = getattr(rules.tables, name)
            setattr(rules.tables, name, threshold((lo, hi)))
            rules.RULES[i] = dataclasses.replace(r, limit=r.limit._replace(
                largest_mapped=lo, smallest_refused=hi))
        rules.rules_changed()
        yield {name: getattr(rules.tables, name) for name in saved}
    finally:
        rules.RULES[:] = saved_rules
        for name, value in saved.items():
            setattr(rules.tables, name, value)
        rules.rules_changed()


def leave_one_source_out(corpus: Path) -> dict:
    points = evidence(corpus)
    by_source: dict[str, list[dict]] = {}
    for row in agreement.rows(corpus):
        by_source.setdefault(row["cpu_model"].split("/")[1], []).append(row)
    results, refits = [], {}
    for source, source_rows in sorted(by_source.items()):
        with refitted(points, source) as refit:
            refits[source] = refit
            results += [agreement.check_pair(corpus, row) for row in source_rows]
    return {"summary": agreement.summary(results), "results": results, "refits": refits}
