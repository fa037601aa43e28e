"""The results over time as the site shows them: every run, each variant's record in each run,
and the regressions that step detection finds in them (tpulens.history.steps: each step judged
by tpulens.history.judgment, the judgment `tpulens diff` makes).

A top-level record wins over its copy in its run's folder, as in the results store: it is what
the rest of the site shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from tpulens.history import steps
from tpulens.history.settings import Settings
from tpulens.history.steps import Regression
from tpulens.history.store import HISTORY, Entry, Run
from tpulens.report.load import PublishedAnalysis, Record, Results


@dataclass
class Timeline:
    runs: list[Run]  # oldest first
    records: list[Record]  # one per run and variant, oldest run first
    regressions: list[Regression]  # still present first, then the newest first

    def run(self, run_id: str) -> Run:
        return next(run for run in self.runs if run.id == run_id)

    def of(self, experiment: str) -> list[Record]:
        return [r for r in self.records if r.experiment == experiment]

    def regressions_of(self, experiment: str) -> list[Regression]:
        return [r for r in self.regressions if r.experiment == experiment]


def is_kept_copy(record: Record) -> bool:
    """A copy in history/<run>/ (not a variant's latest, top-level record)."""
    return record.path.startswith(f"{HISTORY}/")


def timeline_of(results: Results, settings: Settings) -> Timeline:
    chosen: dict[tuple[str, str, str], Record] = {}
    for record in results.history + results.records:  # top-level records last: they win
        chosen[(record.run, record.experiment, record.variant)] = record
    order = {run.id: i for i, run in enumerate(results.runs)}
    records = sorted(chosen.values(), key=lambda r: (order[r.run], r.experiment, r.variant))
    runs = {run.id: run for run in results.runs}
    entries = [
        Entry(
            runs[r.run],
            r.experiment,
            r.variant,
            {"metrics": r.metrics, "metric_info": r.metric_info, "environment": r.environment,
             "samples": r.samples},
            Path(r.path).parent,
            Path(r.path),
            not is_kept_copy(r),
        )
        for r in records
    ]
    return Timeline(results.runs, records, steps.regressions(entries, settings))


def analysis_of(results: Results, record: Record) -> PublishedAnalysis | None:
    """The analysis a record's placement comes from: the published one of a latest record (the
    real compiler's first), the archived one of a kept copy."""
    published = results.analysis(record.compiled_slug or record.analysis_slug)
    return published or results.archived.get(record.path)


def compare_link(slug: str, variant_a: str, run_a: str, variant_b: str, run_b: str) -> str:
    """The compare page showing variant_a as run_a left it against variant_b in run_b (relative
    to the site root): the permalink the compare page keeps in its address."""
    query = urlencode({"a": variant_a, "a_run": run_a, "b": variant_b, "b_run": run_b})
    return f"compare/{slug}.html?{query}"


def run_label(run: Run) -> str:
    """'2026-01-05 14:03 · c0ffee0+dirty': when and at which commit."""
    when = run.started.replace("T", " ")[:16] if run.started else "time unknown"
    return f"{when} · {run.commit_label}"
