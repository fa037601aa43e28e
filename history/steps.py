"""Steps in a metric's history, and which of them are regressions (asv's approach).

A variant's runs give each metric a series of values. Its best piecewise-constant fit minimises

    Σ |value − level of its segment| + penalty × number of steps

(the L1 Potts problem, solved exactly by dynamic programming; histories are a few dozen runs,
kept short by the retention). The penalty is PENALTY × noise × ln(n), the noise estimated from
the differences between consecutive runs (their median barely notices a few steps), so
ordinary jitter stays one level and a real change becomes a step; a series that repeats exact
values (sizes, op counts) has no noise and every change in it is a step. Two runs give no noise
to estimate: their one change is the candidate.

Whether a step is a regression is not the fit's call: the record of the last run at the old
level and the record of the first run at the new one are judged by tpulens.history.judgment,
exactly as `tpulens diff` judges those two runs. Its values are the regression's "before" and
"after"; it is still present while the latest record, judged against the last good one, is worse.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from statistics import median, median_low

from tpulens.analyzer.vocabulary import Change
from tpulens.history.judgment import (
    Judge,
    Kind,
    RecordValues,
    info_of,
    judged,
    kind,
    timing_problem,
)
from tpulens.history.settings import Settings
from tpulens.history.store import Entry, Run

MAX_FIT = 100  # newest runs a series is fitted over: the fit is cubic, retention keeps ~20
PENALTY = 2.0  # × noise × ln(n): tests/test_history_steps.py checks what it detects in noise
NOISE_FROM_MAD = 1.4826 / math.sqrt(2)  # MAD of consecutive differences → noise σ (Gaussian)


@dataclass(frozen=True)
class Segment:
    start: int  # index of its first value
    end: int  # index after its last value
    level: float  # median of its values


@dataclass(frozen=True)
class Regression:
    experiment: str
    variant: str
    metric: str
    unit: str
    before: float  # the value of the last good record
    after: float  # the value of the first bad record
    last_good: Run  # last run at the old level
    first_bad: Run  # first run at the new level: its commit brought the change
    latest: float  # the newest value
    still_present: bool  # the latest record, judged against the last good one, is worse
    note: str = ""  # the judgment's note (the samples compared)

    def to_json(self) -> dict:
        return {"experiment": self.experiment, "variant": self.variant, "metric": self.metric,
                "unit": self.unit, "before": self.before, "after": self.after,
                "last_good": self.last_good.to_json(), "first_bad": self.first_bad.to_json(),
                "latest": self.latest, "still_present": self.still_present, "note": self.note}


def noise(values: list[float]) -> float:
    """Robust noise σ of a series: from the median absolute difference of consecutive values."""
    if len(values) < 2:
        return 0.0
    return NOISE_FROM_MAD * median_low(abs(b - a) for a, b in pairwise(values))


def fit_steps(values: list[float], penalty: float | None = None) -> list[Segment]:
    """The best piecewise-constant fit of `values` (oldest first) as segments."""
    n = len(values)
    if n == 0:
        return []
    if penalty is None:
        scale = max((abs(v) for v in values), default=0.0)
        penalty = PENALTY * max(noise(values), 1e-9 * scale, 1e-300) * math.log(max(n, 2))
    best = [0.0] + [math.inf] * n  # best[j]: lowest cost of values[:j]
    start = [0] * (n + 1)  # start[j]: where the last segment of that fit starts
    for j in range(1, n + 1):
        for i in range(j):
            cost = best[i] + _deviation(values[i:j]) + (penalty if i else 0.0)
            if cost < best[j]:
                best[j], start[j] = cost, i
    segments, j = [], n
    while j > 0:
        segments.append(Segment(start[j], j, median(values[start[j]:j])))
        j = start[j]
    return segments[::-1]


def candidates(values: list[float]) -> list[Segment]:
    """The levels a series steps between: its fit, or each value alone in a pair of runs."""
    if len(values) == 2:
        return [Segment(0, 1, values[0]), Segment(1, 2, values[1])]
    return fit_steps(values)


def regressions(entries: Iterable[Entry], settings: Settings) -> list[Regression]:
    """Every step to a worse level in every variant's metrics (`entries` oldest run first, one
    per run and variant, as History.entries), the ones still present and the newest first.
    Timing is only followed over the runs comparable with the variant's latest record; a series
    is fitted over its newest MAX_FIT runs."""
    entries = list(entries)
    by_run: dict[str, dict[tuple[str, str], Entry]] = {}
    by_variant: dict[tuple[str, str], list[Entry]] = {}
    for entry in entries:
        by_run.setdefault(entry.run.id, {})[entry.key] = entry
        by_variant.setdefault(entry.key, []).append(entry)
    judges: dict[tuple[str, str], Judge] = {}
    record_values = RecordValues()

    def judge(good: Entry, bad: Entry, metric: str):
        pair = (good.run.id, bad.run.id)
        if pair not in judges:
            judges[pair] = Judge(by_run[pair[0]], by_run[pair[1]], settings, record_values)
        return judges[pair].metric(good.key, metric)

    found = []
    for series in by_variant.values():
        latest = series[-1]
        known = [record_values(e) for e in series]
        comparable = [not timing_problem(e, latest) for e in series]
        for metric in judged(set().union(*known)):
            what = kind(metric, info_of(latest, latest, metric))
            if what in (Kind.SCORE, Kind.DESCRIPTIVE):
                continue
            kept = [(e, values[metric]) for e, values, same in zip(series, known, comparable,
                                                                    strict=True)
                    if metric in values and (what != Kind.TIMING or same)][-MAX_FIT:]
            points = [e for e, _ in kept]
            values = [value for _, value in kept]
            for old, new in pairwise(candidates(values)):
                good, bad = points[old.end - 1], points[new.start]
                change = judge(good, bad, metric)
                if change is None or change.change != Change.WORSE:
                    continue
                now = judge(good, points[-1], metric)
                found.append(Regression(latest.experiment, latest.variant, metric, change.unit,
                                        change.base, change.head, good.run, bad.run,
                                        values[-1], now.change == Change.WORSE, change.note))
    found.sort(key=lambda r: r.first_bad.id, reverse=True)
    return sorted(found, key=lambda r: not r.still_present)


def _deviation(values: list[float]) -> float:
    middle = median(values)
    return sum(abs(v - middle) for v in values)
