"""Steps in a metric's history, and which of them are regressions (asv's approach).

A variant's runs give each metric a series of values. Its best piecewise-constant fit minimises

    Σ |value − level of its segment| + penalty × number of steps

(the L1 Potts problem, solved exactly by dynamic programming; histories are a few dozen runs,
kept short by the retention). The penalty is PENALTY × noise × ln(n), the noise estimated from
the differences between consecutive runs (their median barely notices a few steps), so
ordinary jitter stays one level and a real change becomes a step; a series that repeats exact
values (sizes, op counts) has no noise and every change in it is a step. A step to a worse
level, beyond the metric's threshold, is a regression: it arrived with the first run of the
new level, after the last run of the old one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from statistics import median, median_low

from tpulens.history.diff import TIMING, TIMING_ENVIRONMENT
from tpulens.history.settings import Settings
from tpulens.history.store import Entry, Run, metric_values

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
    before: float  # level before the step
    after: float  # level after it
    last_good: Run  # last run at the old level
    first_bad: Run  # first run at the new level: its commit brought the change
    latest: float  # the newest value
    still_present: bool  # the newest level is still worse than `before` beyond the threshold

    def to_json(self) -> dict:
        return {"experiment": self.experiment, "variant": self.variant, "metric": self.metric,
                "unit": self.unit, "before": self.before, "after": self.after,
                "last_good": self.last_good.to_json(), "first_bad": self.first_bad.to_json(),
                "latest": self.latest, "still_present": self.still_present}


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


def regressions(entries: Iterable[Entry], settings: Settings) -> list[Regression]:
    """Every step to a worse level in every variant's metrics (`entries` oldest run first, as
    History.entries), the ones still present and the newest first. Timing is only compared
    between runs on the CPU and thread count of the variant's latest record."""
    by_variant: dict[tuple[str, str], list[Entry]] = {}
    for entry in entries:
        by_variant.setdefault(entry.key, []).append(entry)
    found = []
    for entries in by_variant.values():
        latest = entries[-1].record
        names = sorted({m for e in entries for m in metric_values(e.record)})
        for metric in names:
            info = _dict(_dict(latest.get("metric_info")).get(metric))
            if info.get("better") not in ("higher", "lower"):
                continue
            points = [(e.run, metric_values(e.record)[metric]) for e in entries
                      if metric in metric_values(e.record)
                      and (not TIMING.match(metric) or _same_timing(e.record, latest))]
            found += _series_regressions(entries[-1], metric, info, points, settings)
    found.sort(key=lambda r: r.first_bad.id, reverse=True)
    return sorted(found, key=lambda r: not r.still_present)


def _series_regressions(entry: Entry, metric: str, info: dict, points: list[tuple[Run, float]],
                        settings: Settings) -> list[Regression]:
    values = [v for _, v in points]
    segments = fit_steps(values)
    unit = str(info.get("unit") or "")
    threshold = settings.threshold(metric, unit)
    higher = info.get("better") == "higher"
    out = []
    for old, new in pairwise(segments):
        worse = new.level < old.level if higher else new.level > old.level
        if not (worse and threshold.exceeded(old.level, new.level)):
            continue
        newest = segments[-1].level
        still = (newest < old.level if higher else newest > old.level) \
            and threshold.exceeded(old.level, newest)
        out.append(Regression(entry.experiment, entry.variant, metric, unit, old.level,
                              new.level, points[old.end - 1][0], points[new.start][0],
                              values[-1], still))
    return out


def _deviation(values: list[float]) -> float:
    middle = median(values)
    return sum(abs(v - middle) for v in values)


def _same_timing(record: dict, latest: dict) -> bool:
    mine, theirs = _dict(record.get("environment")), _dict(latest.get("environment"))
    return all(mine.get(k) == theirs.get(k) for k in TIMING_ENVIRONMENT)


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}
