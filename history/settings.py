"""How many runs the history keeps, and how large a change must be to count, per metric.

In benchmarks.toml (every key optional):

    [history]
    keep_runs = 20                      # records kept per variant under results/history/

    [diff]
    significance = 0.01                 # a latency change needs a Mann-Whitney U p-value below
    [diff.thresholds]                   # the smallest change that counts, by metric name or
    accuracy = { absolute = 0.01 }      # fnmatch pattern (first match in file order); metrics
    "latency_ms_*" = { relative = 0.1 } # not listed get the default for their unit
"""

from __future__ import annotations

import fnmatch
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tpulens.errors import InputError

DEFAULT_KEEP_RUNS = 20
DEFAULT_SIGNIFICANCE = 0.01


@dataclass(frozen=True)
class Threshold:
    """A change counts when it is larger than `relative` × |base| or `absolute` (one is set)."""

    relative: float | None = None
    absolute: float | None = None

    def tolerance(self, base: float) -> float:
        return self.absolute if self.absolute is not None else self.relative * abs(base)

    def exceeded(self, base: float, head: float) -> bool:
        return abs(head - base) > self.tolerance(base)

    def describe(self) -> str:
        if self.absolute is not None:
            return f"±{self.absolute:g}"
        return f"±{self.relative * 100:g} %"


# Defaults by metric unit (metric_info.unit). Retraining moves accuracy by a few tenths of a
# point and timing moves a few per cent between runs; sizes and op counts are deterministic.
DEFAULT_THRESHOLDS = {
    "fraction": Threshold(absolute=0.01),
    "AP": Threshold(absolute=0.01),
    "ms": Threshold(relative=0.10),
    "bytes": Threshold(relative=0.01),
    "%": Threshold(absolute=1.0),
    "ops": Threshold(absolute=0),
    "subgraphs": Threshold(absolute=0),
    "score": Threshold(absolute=0.05),
    "parameters": Threshold(relative=0.01),
    "MACs": Threshold(relative=0.01),
}
FALLBACK_THRESHOLD = Threshold(relative=0.05)


@dataclass(frozen=True)
class Settings:
    keep_runs: int = DEFAULT_KEEP_RUNS
    significance: float = DEFAULT_SIGNIFICANCE
    thresholds: dict[str, Threshold] = field(default_factory=dict)  # name or pattern → threshold

    def threshold(self, metric: str, unit: str) -> Threshold:
        return self.configured(metric) or DEFAULT_THRESHOLDS.get(unit, FALLBACK_THRESHOLD)

    def configured(self, metric: str) -> Threshold | None:
        """The threshold [diff.thresholds] gives the metric, by name or first pattern."""
        if metric in self.thresholds:
            return self.thresholds[metric]
        return next((threshold for pattern, threshold in self.thresholds.items()
                     if fnmatch.fnmatchcase(metric, pattern)), None)


def from_suite(data: dict) -> Settings:
    """The settings of a parsed benchmarks.toml that `problems` found nothing wrong with."""
    history, diff = data.get("history", {}), data.get("diff", {})
    return Settings(
        keep_runs=history.get("keep_runs", DEFAULT_KEEP_RUNS),
        significance=diff.get("significance", DEFAULT_SIGNIFICANCE),
        thresholds={name: Threshold(**spec)
                    for name, spec in diff.get("thresholds", {}).items()})


def read_settings(config: Path | None) -> Settings:
    """The settings of a suite file (`config`, else ./benchmarks.toml if there is one, else the
    defaults): `tpulens diff` and the report's regressions judge by the same thresholds."""
    path = config or Path("benchmarks.toml")
    if config is None and not path.is_file():
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path}: TOML syntax error: {err}") from None
    found = problems(data)
    if found:
        key, message = found[0]
        raise InputError(f"{path}: {key}: {message}")
    return from_suite(data)


def problems(data: dict) -> list[tuple[str, str]]:
    """Every problem in the [history] and [diff] tables as (key path, message)."""
    out: list[tuple[str, str]] = []
    history, diff = data.get("history", {}), data.get("diff", {})
    for name, table in (("history", history), ("diff", diff)):
        if not isinstance(table, dict):
            out.append((name, "expected a table"))
    if out:
        return out
    _unknown(history, "history", {"keep_runs"}, out)
    _unknown(diff, "diff", {"significance", "thresholds"}, out)
    keep = history.get("keep_runs", DEFAULT_KEEP_RUNS)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        out.append(("history.keep_runs", f"expected an integer of at least 1, got {keep!r}"))
    significance = diff.get("significance", DEFAULT_SIGNIFICANCE)
    if not _number(significance) or not 0 < significance < 1:
        out.append(("diff.significance", f"expected a number between 0 and 1, got "
                                         f"{significance!r}"))
    thresholds = diff.get("thresholds", {})
    if not isinstance(thresholds, dict):
        out.append(("diff.thresholds", "expected a table of metric = { relative | absolute }"))
        return out
    for name, spec in thresholds.items():
        path = f"diff.thresholds.{name}"
        if not isinstance(spec, dict) or len(spec) != 1 \
                or next(iter(spec)) not in ("relative", "absolute"):
            out.append((path, "expected { relative = R } or { absolute = A }"))
        elif not _number(next(iter(spec.values()))) or next(iter(spec.values())) < 0:
            out.append((path, f"expected a number of at least 0, got "
                              f"{next(iter(spec.values()))!r}"))
    return out


def _unknown(table: dict, name: str, allowed: set, out: list) -> None:
    for key in table:
        if key not in allowed:
            out.append((f"{name}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})"))


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
