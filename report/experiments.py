"""Experiments as the pages show them: a unique slug, the data frames and the verdict (the best
ok variant per objective), shared by the overview and the experiment pages."""

from __future__ import annotations

from dataclasses import dataclass

from tpulens.analyzer.vocabulary import RecordStatus
from tpulens.report import metric_view as m
from tpulens.report.detections import Examples, detection_examples
from tpulens.report.labels import source_label
from tpulens.report.load import Results, Slugs
from tpulens.report.tables import ExperimentData, experiment_data


@dataclass
class Experiment:
    name: str
    slug: str
    data: ExperimentData
    examples: Examples | None = None  # detection pictures


def experiments_of(results: Results) -> list[Experiment]:
    slugs = Slugs()
    out = []
    for name, records in results.experiments().items():
        slug = slugs.new(name)
        data = experiment_data(results, slug, records)
        out.append(
            Experiment(name, slug, data, detection_examples(slug, records, results.problems))
        )
    return out


def winner_names(data: ExperimentData, key: str, winners: list[str]) -> list[str]:
    """The winners, or one phrase when every ok variant ties (no winner at all)."""
    ok = sum(
        r.status == RecordStatus.OK and data.value(r.variant, key) is not None
        for r in data.records
    )
    return [f"all {ok} variants tie"] if len(winners) == ok > 1 else winners


def off_edgetpu(data: ExperimentData, winners: list[str]) -> str:
    """A warning when no op of the winners reaches the Edge TPU (float models): their speed or
    accuracy says nothing about the Edge TPU."""
    if not winners or any(data.value(v, "edgetpu_share") != 0 for v in winners):
        return ""
    said = sorted({source_label(data.source(v, "edgetpu_share")).word for v in winners})
    return f"no op runs on the Edge TPU ({', '.join(said)})"


def verdict(exp: Experiment) -> list[dict]:
    """Best ok variant per objective, with the value and where it was measured."""
    data = exp.data
    rows = []
    for key in m.VERDICT_KEYS:
        if key not in data.metas or not data.best.get(key):
            continue
        winner = data.best[key][0]
        record = next(r for r in data.records if r.variant == winner)
        meta, source = data.metas[key], data.source(winner, key)
        winners = winner_names(data, key, data.best[key])
        rows.append(
            {
                "objective": f"{meta.label} ({meta.better} is better)",
                "winners": winners,
                "value": m.format_value(data.value(winner, key), meta.unit)
                + data.range_text(winner, key, meta.unit),
                "where": data.where_of(record, key),
                "provenance": data.provenance(record, key),
                "badge": source_label(source).badge,
                "caveat": off_edgetpu(data, data.best[key]) if winners == data.best[key] else "",
            }
        )
    return rows
