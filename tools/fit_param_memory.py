"""Measure the parameter-memory estimate against the compiler on ../shared/corpus pairs.

For every pair: the compiler's split (from the compiled model's packages) against the estimate
(a) given the real placement (read from the compiled model) and (b) given the predicted one.
Then leave-one-source-out: the LayoutRules constants are re-chosen from a small grid on the
other sources and judged on the held-out source.

    .venv/bin/python tools/fit_param_memory.py [../shared/corpus]
"""

from __future__ import annotations

import csv
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

from tpulens.analyzer.analyze import analyze_model, make_options
from tpulens.analyzer.compiled import custom_ops, is_edgetpu_op
from tpulens.analyzer.ground_truth import CORPUS, match_placement
from tpulens.analyzer.model import read_model
from tpulens.analyzer.param_memory import (
    RULES,
    LayoutRules,
    compiled_split,
    lay_out,
    rules_for,
    tpu_segments,
)
from tpulens.analyzer.vocabulary import Placement

TOLERANCE, FLOOR = 0.02, 16 * 1024
GRID = {"per_channel_bytes": (0, 4, 8, 12), "elementwise_bytes_per_value": (4, 8, 16, 32),
        "narrow_output_group": (8, 16, 32), "wide_output_group": (32, 64, 128),
        "softmax_bytes": (0, 576)}


@dataclass
class Pair:
    name: str
    source: str
    compiler: str
    excluded: bool
    truth: tuple[int, int]
    model: object
    true_segments: list
    predicted_segments: list

    def estimate(self, segments, rules: LayoutRules) -> tuple[int, int]:
        parts = lay_out(self.model, self.model.subgraphs[0], segments, len(segments) > 1,
                        rules=rules_for(self.compiler, rules))
        return sum(p.on_chip_bytes for p in parts), sum(p.off_chip_bytes for p in parts)


def within(estimate: int, truth: int) -> bool:
    return abs(estimate - truth) <= max(TOLERANCE * truth, FLOOR)


def agrees(pair: Pair, segments, rules: LayoutRules) -> bool:
    on, off = pair.estimate(segments, rules)
    return within(on, pair.truth[0]) and within(off, pair.truth[1])


def load(corpus: Path) -> list[Pair]:
    with open(corpus / "PAIRS.tsv", newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["kind"] == "pair"]
    pairs = []
    for row in rows:
        cpu = read_model(corpus / row["cpu_model"])
        compiled = read_model(corpus / row["edgetpu_model"])
        split = [compiled_split(c.package) for c in custom_ops(compiled) if c.package]
        truth = (sum(s[0] for s in split), sum(s[1] for s in split))
        placement = match_placement(cpu, compiled).placement
        sg = cpu.subgraphs[0]
        true = tpu_segments(sg, [placement[(0, op.index)] == Placement.TPU
                                 for op in sg.operators])
        multi = sum(is_edgetpu_op(op) for op in compiled.operators) > 1
        analysis = analyze_model(cpu, make_options(row["compiler_version"], multi),
                                 what_if=False)
        predicted = tpu_segments(sg, [v.placement == Placement.TPU for v in analysis.verdicts
                                      if v.subgraph == 0])
        pairs.append(Pair(row["edgetpu_model"], row["source_edgetpu"].split(":")[1],
                          row["compiler_version"], (row["caveat"] or "").startswith("exclude"),
                          truth, cpu, true, predicted))
    return pairs


def best_rules(pairs: list[Pair]) -> LayoutRules:
    """The grid's rules that agree on the most pairs (given the real placement), then with the
    smallest total error."""
    best, best_score = RULES, (-1, 0.0)
    for values in itertools.product(*GRID.values()):
        rules = RULES._replace(**dict(zip(GRID, values, strict=True)))
        score = (sum(agrees(p, p.true_segments, rules) for p in pairs),
                 -sum(error(p, rules) for p in pairs))
        if score > best_score:
            best, best_score = rules, score
    return best


def error(pair: Pair, rules: LayoutRules) -> float:
    """Relative error of the laid-out total (real placement): the tie-break between rules."""
    on, off = pair.estimate(pair.true_segments, rules)
    return abs(on + off - sum(pair.truth)) / max(1, sum(pair.truth))


def report(pairs: list[Pair]) -> None:
    kept = [p for p in pairs if not p.excluded]
    for label, attr in (("real placement", "true_segments"),
                        ("predicted placement", "predicted_segments")):
        ok = [agrees(p, getattr(p, attr), RULES) for p in kept]
        print(f"in-sample, {label}: {sum(ok)}/{len(ok)} within 2 % or 16 KiB")
    print(f"{'model':60s} {'true on':>9s} {'est on':>9s} {'true off':>9s} {'est off':>9s}")
    for p in kept:
        on, off = p.estimate(p.true_segments, RULES)
        mark = "" if agrees(p, p.true_segments, RULES) else "  MISS"
        print(f"{p.name[-60:]:60s} {p.truth[0]:9d} {on:9d} {p.truth[1]:9d} {off:9d}{mark}")
    held = {"true_segments": 0, "predicted_segments": 0}
    sources = sorted({p.source for p in kept})
    for source in sources:
        rules = best_rules([p for p in kept if p.source != source])
        for p in (p for p in kept if p.source == source):
            for attr in held:
                ok = agrees(p, getattr(p, attr), rules)
                held[attr] += ok
                if not ok:
                    print(f"  held out, {attr}: {p.name} misses")
        if rules != RULES:
            print(f"  without {source}: {rules}")
    for attr, count in held.items():
        print(f"leave-one-source-out ({len(sources)} sources), {attr}: {count}/{len(kept)}")


if __name__ == "__main__":
    report(load(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS))
