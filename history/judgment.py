"""The one judgment of what happened to a metric between two records: better, worse, changed,
unchanged or not judged. `tpulens diff`, the Regressions page, the history charts and the feed
all ask it, so they never disagree.

How a metric is judged depends on what can move it:
- a score of other metrics (the objective): `changed` beyond its threshold, never a regression
  by itself (its latency part moves with timing noise; its parts are judged);
- a metric with no better direction: `changed` beyond its threshold;
- a timing measured on a machine (host CPU latency, a measured Edge TPU latency): judged only
  between records measured in one run or on the same recorded machine, with the same CPU and
  thread count. Each statistic is judged on its own samples (p90 on the samples' p90, by a
  bootstrap): `better`/`worse` when it moved beyond its threshold and the bootstrap finds the
  move significant. When most variants' timing moved the same way between the two sides, that
  is one finding about the machine (a MachineShift), not a regression of each variant: those
  rows are `not judged`, and the finding is named once;
- everything else is deterministic (accuracy of a given model, sizes, op placement, the values
  the Edge TPU cost model predicts) and judged exactly: value against value and threshold, with
  no noise model and whatever the machine. A predicted or compiler-read value has no noise at
  all, so by default any change of it counts.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from functools import cached_property
from statistics import median

from tpulens.analyzer.vocabulary import Change, Source
from tpulens.history.settings import Settings, Threshold
from tpulens.history.store import Entry, metric_values, samples
from tpulens.metrics import Device, meaning

# A timing metric and the sample set it summarises: latency_ms_p90 → samples["latency_ms"].
TIMING = re.compile(r"^(?P<samples>.*latency_ms)_(?P<stat>p\d+|mean)$")
TIMING_ENVIRONMENT = ("cpu", "machine", "threads")
EXACT = Threshold(absolute=0)
BOOTSTRAP_ROUNDS = 1000  # p-values to 0.001, ten times finer than the default significance
MOST = 2 / 3  # the share of variants moving one way that makes a machine shift
MIN_SHIFT_VARIANTS = 3


class Kind(StrEnum):
    SCORE = "score"
    DESCRIPTIVE = "descriptive"
    TIMING = "timing"
    EXACT = "exact"


@dataclass(frozen=True)
class MetricChange:
    metric: str
    unit: str
    better: str  # higher | lower | none
    base: float
    head: float
    change: Change
    threshold: str  # as configured, e.g. "±10 %"
    p_value: float | None = None  # bootstrap of the statistic on the timing samples
    note: str = ""
    tolerance: float | None = None  # the threshold at this base value, in the metric's unit
    covered: bool = False  # not judged for a reason named once for all rows (its note)

    @property
    def absolute(self) -> float:
        return self.head - self.base

    @property
    def relative(self) -> float | None:
        return (self.head - self.base) / abs(self.base) if self.base else None

    @property
    def thresholds_crossed(self) -> float:
        """How many thresholds the change spans: what ranks changes of different metrics (a
        5-point accuracy loss is 5× its threshold, +30 % latency 3×). Any change of a metric
        whose threshold is zero (op counts) ranks first."""
        if not self.tolerance:
            return math.inf if self.absolute else 0.0
        return round(abs(self.absolute) / self.tolerance, 6)  # 6 places: float noise ties

    def to_json(self) -> dict:
        return {**asdict(self), "change": str(self.change), "absolute": self.absolute,
                "relative": self.relative}


@dataclass(frozen=True)
class MachineShift:
    """Most variants' timing of one kind moved the same way between the two sides."""

    samples: str  # the timing kind: latency_ms, edgetpu_latency_ms
    median: float  # median relative change of the variants that moved that way
    moved: int
    compared: int

    def describe(self) -> str:
        what = "Edge TPU latency" if meaning(f"{self.samples}_p50").device == Device.EDGE_TPU \
            else "host latency"
        return (f"{what} shifted {self.median:+.1%} (median) across {self.moved} of "
                f"{self.compared} variants between these runs: the machine, not the models; "
                "re-measure both sides in one job")

    def to_json(self) -> dict:
        return {**asdict(self), "finding": self.describe()}


def judged(names) -> list[str]:
    """The metrics to judge, sorted: a range end (`*_low`, `*_high` of a prediction) is judged
    through the metric whose range it bounds."""
    return sorted(name for name in names if not meaning(name).bound_of)


def kind(metric: str, info: dict) -> Kind:
    if meaning(metric).derived:
        return Kind.SCORE
    if info.get("better") not in ("higher", "lower"):
        return Kind.DESCRIPTIVE
    if TIMING.match(metric) and str(info.get("source") or Source.MEASURED) == Source.MEASURED:
        return Kind.TIMING
    return Kind.EXACT


def threshold_of(metric: str, info: dict, settings: Settings) -> Threshold:
    """The configured threshold; a predicted or compiler-read value, unless configured, counts
    any change (it has no noise)."""
    configured = settings.configured(metric)
    if configured is None and str(info.get("source") or "") in (Source.PREDICTED,
                                                                 Source.COMPILER, Source.LOG):
        return EXACT
    return configured or settings.threshold(metric, str(info.get("unit") or ""))


def info_of(base: Entry, head: Entry, metric: str) -> dict:
    """What the records say the metric means (head's word wins)."""
    return {**_dict(_dict(base.record.get("metric_info")).get(metric)),
            **_dict(_dict(head.record.get("metric_info")).get(metric))}


def timing_problem(base: Entry, head: Entry) -> str:
    """Why two records' timings cannot be compared ("" when they can): not one run and not the
    same recorded machine, or another CPU or thread count."""
    if base.run.id != head.run.id:
        machines = (_text(base.run.machine), _text(head.run.machine))
        if not all(machines):
            return "timing not judged: the machine of a run is not recorded"
        if machines[0] != machines[1]:
            return f"timing not judged: measured on {machines[0]} and on {machines[1]}"
    base_env = _dict(base.record.get("environment"))
    head_env = _dict(head.record.get("environment"))
    differs = [k for k in TIMING_ENVIRONMENT if base_env.get(k) != head_env.get(k)]
    return f"timing not judged: measured with a different {', '.join(differs)}" if differs else ""


class RecordValues:
    """Each record's metric values, read once however many metrics and pairs of runs ask."""

    def __init__(self) -> None:
        self._read: dict[int, tuple[dict, dict[str, float]]] = {}  # id → (record, values)

    def __call__(self, entry: Entry) -> dict[str, float]:
        hit = self._read.get(id(entry.record))
        if hit is None or hit[0] is not entry.record:
            hit = self._read[id(entry.record)] = (entry.record, metric_values(entry.record))
        return hit[1]


class Judge:
    """Judges the records of two sides (each variant's record on each side), knowing what holds
    across all of them (a machine shift). Judges of one history share its RecordValues."""

    def __init__(self, base: dict[tuple[str, str], Entry], head: dict[tuple[str, str], Entry],
                 settings: Settings, values: RecordValues | None = None):
        self.base, self.head, self.settings = base, head, settings
        self.values = values or RecordValues()

    @cached_property
    def shifts(self) -> dict[str, MachineShift]:
        """Found when first asked: only timing verdicts and a diff's findings need them."""
        return machine_shifts(self.base, self.head, self.settings, self.values)

    def metric(self, key: tuple[str, str], metric: str) -> MetricChange | None:
        """The verdict on one metric of one variant; None when a side lacks it."""
        base, head = self.base.get(key), self.head.get(key)
        if base is None or head is None:
            return None
        base_values, head_values = self.values(base), self.values(head)
        if metric not in base_values or metric not in head_values:
            return None
        return self._judge(metric, info_of(base, head, metric), base, head, base_values[metric],
                           head_values[metric])

    def _judge(self, metric: str, info: dict, base: Entry, head: Entry, base_value: float,
               head_value: float) -> MetricChange:
        unit, better = str(info.get("unit") or ""), str(info.get("better") or "none")
        threshold = threshold_of(metric, info, self.settings)
        exceeded = threshold.exceeded(base_value, head_value)

        def verdict(change: Change, p_value: float | None = None, note: str = "",
                    covered: bool = False) -> MetricChange:
            return MetricChange(metric, unit, better, base_value, head_value, change,
                                threshold.describe(), p_value, note,
                                threshold.tolerance(base_value), covered)

        what = kind(metric, info)
        if what == Kind.TIMING:
            problem = timing_problem(base, head)
            if problem:
                return verdict(Change.NOT_JUDGED, note=problem, covered=True)
            timing = TIMING.match(metric)
            shift = self.shifts.get(timing["samples"])
            if shift:
                return verdict(Change.NOT_JUDGED, note="moved with the machine: "
                               + shift.describe(), covered=True)
        if head_value == base_value:
            return verdict(Change.UNCHANGED)
        if what == Kind.SCORE:
            return verdict(Change.CHANGED if exceeded else Change.UNCHANGED,
                           note="a score of other metrics, which are judged themselves")
        if what == Kind.DESCRIPTIVE:
            return verdict(Change.CHANGED if exceeded else Change.UNCHANGED)
        direction = Change.BETTER if (head_value > base_value) == (better == "higher") \
            else Change.WORSE
        if what == Kind.EXACT or not exceeded:
            return verdict(direction if exceeded else Change.UNCHANGED)
        timing = TIMING.match(metric)
        base_samples = samples(base.record, timing["samples"])
        head_samples = samples(head.record, timing["samples"])
        if not (base_samples and head_samples):
            return verdict(direction, note="no samples: judged by threshold only")
        p_value = bootstrap_p(base_samples, head_samples, timing["stat"])
        note = f"{timing['stat']} of {len(base_samples)} vs {len(head_samples)} samples"
        return verdict(direction if p_value < self.settings.significance else Change.UNCHANGED,
                       p_value, note)


def machine_shifts(base: dict[tuple[str, str], Entry], head: dict[tuple[str, str], Entry],
                   settings: Settings, values: RecordValues) -> dict[str, MachineShift]:
    """Per timing kind, the shift of the comparable variants' medians (p50), when at least
    MOST of them moved one way and one moved beyond the threshold."""
    moves: dict[str, list[tuple[float, bool]]] = {}
    for key in sorted(set(base) & set(head)):
        if timing_problem(base[key], head[key]):
            continue
        base_values, head_values = values(base[key]), values(head[key])
        for metric, value in base_values.items():
            timing = TIMING.match(metric)
            if not (timing and timing["stat"] == "p50" and value and metric in head_values):
                continue
            info = info_of(base[key], head[key], metric)
            if kind(metric, info) == Kind.TIMING:
                exceeded = threshold_of(metric, info, settings).exceeded(value,
                                                                         head_values[metric])
                moves.setdefault(timing["samples"], []).append(
                    (head_values[metric] / value - 1, exceeded))
    shifts = {}
    for name, changes in moves.items():
        up = [(c, beyond) for c, beyond in changes if c > 0]
        down = [(c, beyond) for c, beyond in changes if c < 0]
        moved = max(up, down, key=len)
        if len(changes) >= MIN_SHIFT_VARIANTS and len(moved) >= MOST * len(changes) \
                and any(beyond for _, beyond in moved):
            shifts[name] = MachineShift(name, median(c for c, _ in moved), len(moved),
                                        len(changes))
    return shifts


def statistic(values, stat: str):
    """The statistic a timing metric reports, along the last axis: mean or the p-th
    percentile (linear interpolation, as the runners compute it)."""
    import numpy as np

    if stat == "mean":
        return np.mean(values, axis=-1)
    return np.percentile(values, float(stat[1:]), axis=-1)


def bootstrap_p(base: list[float], head: list[float], stat: str) -> float:
    """Two-sided bootstrap p-value that the statistic is the same on both sides: the share of
    resampled differences on the far side of zero, doubled. Seeded: the same samples give the
    same verdict every time."""
    import numpy as np

    rng = np.random.default_rng(0)
    base_arr, head_arr = np.asarray(base), np.asarray(head)
    base_stats = statistic(base_arr[rng.integers(0, len(base_arr),
                                                 (BOOTSTRAP_ROUNDS, len(base_arr)))], stat)
    head_stats = statistic(head_arr[rng.integers(0, len(head_arr),
                                                 (BOOTSTRAP_ROUNDS, len(head_arr)))], stat)
    differences = head_stats - base_stats
    tail = min(np.mean(differences <= 0), np.mean(differences >= 0))
    return float(min(1.0, 2 * tail))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}
