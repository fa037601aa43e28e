"""Fit and measure the Edge TPU cycle model (tpulens.analyzer.cycles) on the corpus.

Reads every pair of ../shared/corpus whose compiled model carries `estimated_cycles`, takes
the ops of each Edge TPU subgraph from the compiled model (real placement) or from the
analyzer's prediction, and compares `segment_cycles` with the compiler's figure: in-sample,
and leave-one-source-out (the fitted constants refitted without the source held out).

    .venv/bin/python tools/fit_cycles.py [--corpus ../shared/corpus] [--fit]

Needs numpy and scipy (the venv has them); the analyzer itself does not.
"""

from __future__ import annotations

import argparse
import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from tpulens.analyzer.analyze import analyze_model, make_options
from tpulens.analyzer.compiled import custom_ops
from tpulens.analyzer.cycles import CHIP, Chip, segment_cycles
from tpulens.analyzer.ground_truth import CORPUS, match_placement
from tpulens.analyzer.model import Model, read_model
from tpulens.analyzer.vocabulary import Placement

BAND = 0.20
LANE_CHOICES = (16, 32, 64)


@dataclass
class Item:
    name: str
    source: str  # the repository, commit dropped
    source_commit: str  # source_edgetpu up to the path
    owner: str  # the repository's owner: one organisation's repositories share models
    compiler: str
    model: Model
    segments: list[list[int]]  # real placement: CPU-model ops of each Edge TPU subgraph
    predicted: list[int]  # predicted placement: ops the analyzer maps (main subgraph)
    cycles: list[int]  # the compiler's figure per Edge TPU subgraph
    parameter_caching: bool


def real_segments(cpu: Model, compiled: Model) -> list[list[int]]:
    """The CPU-model ops each custom op replaced: all mapped ops when there is one; else
    walking back from each custom op's outputs to its inputs by tensor name (the compiler
    keeps the names at the boundary between Edge TPU subgraphs)."""
    sg = cpu.subgraphs[0]
    placement = match_placement(cpu, compiled).placement
    if sum(item.subgraph == 0 for item in custom_ops(compiled)) == 1:
        return [[op.index for op in sg.operators if placement[(0, op.index)] == Placement.TPU]]
    by_name = {t.name: t.index for t in sg.tensors}
    producer = {t: op.index for op in sg.operators for t in op.outputs}
    result = []
    for item in custom_ops(compiled):
        if item.subgraph:
            continue
        stop = {by_name.get(n) for n in item.inputs}
        todo = [by_name[n] for n in item.outputs if n in by_name]
        ops: set[int] = set()
        while todo:
            t = todo.pop()
            op = producer.get(t)
            if t in stop or op is None or op in ops:
                continue
            if placement[(0, op)] != Placement.TPU:
                continue
            ops.add(op)
            todo.extend(i for i in sg.operators[op].inputs if i >= 0)
        result.append(sorted(ops))
    return result


def load(corpus: Path) -> list[Item]:
    items = []
    with open(corpus / "PAIRS.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for row in rows:
        if not row["edgetpu_model"] or row["caveat"].startswith("exclude"):
            continue
        compiled = read_model(corpus / row["edgetpu_model"])
        packages = [c.package for c in custom_ops(compiled) if c.subgraph == 0 and c.package]
        cycles = [sum(e.estimated_cycles for e in p.executables) for p in packages]
        if not cycles or not all(cycles):
            continue
        cpu = read_model(corpus / row["cpu_model"])
        version = row["compiler_version"].split(".")[0] + ".0"
        if row["compiler_version"].startswith("2.1"):
            version = "2.1"
        analysis = analyze_model(cpu, make_options(version, len(packages) > 1), what_if=False)
        predicted = [v.index for v in analysis.verdicts
                     if v.subgraph == 0 and v.placement == Placement.TPU]
        where = row["source_edgetpu"].rsplit(":", 1)[0]
        items.append(Item(
            name=row["cpu_model"], source=where.split("@")[0], source_commit=where,
            owner=where.split("/")[0],
            compiler=row["compiler_version"], model=cpu, segments=real_segments(cpu, compiled),
            predicted=predicted, cycles=cycles,
            parameter_caching=any(e.type == "PARAMETER_CACHING"
                                  for p in packages for e in p.executables)))
    return items


def predict(item: Item, chip: Chip, placement: str = "real") -> int:
    sg = item.model.subgraphs[0]
    if placement == "real":
        return sum(segment_cycles(item.model, sg, ops, chip) for ops in item.segments)
    return segment_cycles(item.model, sg, item.predicted, chip)


def ratios(items: list[Item], chip: Chip, placement: str = "real") -> list[float]:
    return [predict(i, chip, placement) / sum(i.cycles) for i in items]


def loss(items: list[Item], chip: Chip) -> float:
    """Mean squared log error: a 2x miss weighs the same on a small and on a large model."""
    return float(np.mean([math.log(r) ** 2 for r in ratios(items, chip)]))


def fit(items: list[Item], base: Chip = CHIP) -> Chip:
    """The depthwise lane count (a hardware width: 16, 32 or 64) and the activation rate."""
    best = None
    for lanes in LANE_CHOICES:
        chip = base._replace(vector_lanes=lanes)
        found = minimize_scalar(
            lambda x, c=chip: loss(items, c._replace(activation_bytes_per_cycle=x)),
            bounds=(0.5, 200.0), method="bounded", options={"xatol": 0.01})
        fitted = chip._replace(activation_bytes_per_cycle=round(float(found.x), 1))
        score = loss(items, fitted)
        if best is None or score < best[0]:
            best = (score, fitted)
    return best[1]


def within(rs: list[float]) -> int:
    return sum(abs(r - 1) <= BAND for r in rs)


def report(items: list[Item], chip: Chip, refit: bool) -> None:
    print(f"chip: {chip}")
    print(f"{'model':58s} {'compiler':>10s} {'cycles':>10s} {'real':>7s} {'pred.':>7s} "
          f"{'loso':>7s}")
    loso: dict[str, float] = {}
    loso_commit: dict[str, float] = {}
    loso_owner: dict[str, float] = {}
    if refit:
        for key, out in (("source", loso), ("source_commit", loso_commit),
                         ("owner", loso_owner)):
            for held in sorted({getattr(i, key) for i in items}):
                train = [i for i in items if getattr(i, key) != held]
                fitted = fit(train, chip)
                for i in items:
                    if getattr(i, key) == held:
                        out[i.name + i.compiler] = predict(i, fitted) / sum(i.cycles)
                print(f"  held out {held}: fitted {fitted.vector_lanes} lanes, "
                      f"{fitted.activation_bytes_per_cycle} B/cycle")
    real, pred = ratios(items, chip), ratios(items, chip, "predicted")
    for i, r, p in zip(items, real, pred, strict=True):
        held = loso.get(i.name + i.compiler)
        shown = f"{held:7.3f}" if held else ""
        print(f"{i.name[-58:]:58s} {i.compiler[:10]:>10s} {sum(i.cycles):10d} {r:7.3f} "
              f"{p:7.3f} {shown}")
    n = len(items)
    print(f"within {BAND:.0%}: in-sample {within(real)}/{n} (real placement), "
          f"{within(pred)}/{n} (predicted placement)")
    if refit:
        print(f"within {BAND:.0%}: leave-one-repository-out {within(list(loso.values()))}/{n}, "
              f"leave-one-source@commit-out {within(list(loso_commit.values()))}/{n}, "
              f"leave-one-owner-out {within(list(loso_owner.values()))}/{n}")
    errors = sorted(abs(r - 1) for r in real)
    print(f"median |error| {errors[n // 2]:.1%}; worst {errors[-1]:.1%}")
    print("per source (real placement, in-sample / held out by repository):")
    for source in sorted({i.source for i in items}):
        mine = [(r, loso.get(i.name + i.compiler)) for i, r in zip(items, real, strict=True)
                if i.source == source]
        errs = sorted(abs(r - 1) for r, _ in mine)
        held = within([h for _, h in mine if h]) if loso else "-"
        print(f"  {source:45s} {len(mine):3d} models, within {BAND:.0%}: "
              f"{within([r for r, _ in mine])} / {held}; median |error| "
              f"{errs[len(errs) // 2]:.1%}")
    print("worst ten (real placement):")
    ranked = sorted(zip(items, real, strict=True), key=lambda p: -abs(p[1] - 1))
    for i, r in ranked[:10]:
        print(f"  {r - 1:+7.1%}  {i.name}  ({sum(i.cycles)} cycles)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--fit", action="store_true", help="fit the constants first")
    parser.add_argument("--loso", action="store_true", help="refit without each source")
    args = parser.parse_args()
    items = load(args.corpus)
    chip = fit(items) if args.fit else CHIP
    report(items, chip, args.loso)


if __name__ == "__main__":
    main()
