"""One history page per experiment: each metric per variant across runs (the commit on hover,
regressions marked where they began; a click opens the compare page on that run and the one
before), and the runs themselves."""

from __future__ import annotations

from plotly.colors import qualitative

from tpulens.history.steps import Regression
from tpulens.history.store import Run
from tpulens.report import metric_view as m
from tpulens.report.charts import Chart, axis_title
from tpulens.report.experiments import Experiment
from tpulens.report.labels import joined_wheres, where
from tpulens.report.load import Record, Slugs
from tpulens.report.publisher import Publisher, SiteContent, Writer
from tpulens.report.tables import Cell, Table
from tpulens.report.timeline import Timeline, compare_link, run_label

REGRESSION_COLOR = "#b71c1c"


class History(Publisher):
    name = "history"
    order = 35  # reached from each experiment page and the regressions page

    @classmethod
    def publish(cls, content: SiteContent, writer: Writer) -> None:
        timeline = content.timeline
        for exp in content.experiments:
            writer.page(
                f"history/{exp.slug}.html",
                "history.html",
                title=f"History: {exp.name}",
                exp=exp,
                charts=history_charts(exp, timeline),
                runs=runs_table(exp, timeline),
                regressions=len(timeline.regressions_of(exp.name)),
            )


def metric_anchors(records: list[Record]) -> dict[str, str]:
    """metric → the id of its chart on the history page, in the site's metric order."""
    slugs = Slugs()
    keys = m.metric_order({k for r in records for k in r.metrics})
    return {key: "metric-" + slugs.new(key) for key in keys}


def history_charts(exp: Experiment, timeline: Timeline) -> list[Chart]:
    """A chart per metric: one line per variant over the runs that measured it."""
    records = timeline.of(exp.name)
    index = {run.id: i for i, run in enumerate(timeline.runs)}
    variants = sorted({r.variant for r in records}, key=lambda v: (v not in exp.data.variants, v))
    colors = {v: qualitative.Plotly[i % len(qualitative.Plotly)] for i, v in enumerate(variants)}
    charts = []
    for key, anchor in metric_anchors(records).items():
        info = next(r.metric_info.get(key) for r in reversed(records) if key in r.metrics)
        meta = m.meta(key, info)
        scale = 100 if meta.unit == "fraction" else 1
        traces = []
        for variant in variants:
            points = [r for r in records if r.variant == variant and key in r.metrics]
            if points:
                traces.append(_trace(exp, timeline, variant, points, key, meta, scale, index))
                traces[-1]["line"] = {"color": colors[variant]}
        marks = [g for g in timeline.regressions_of(exp.name) if g.metric == key]
        if marks:
            traces.append(_regression_marks(exp, marks, records, meta, scale, index))
        unit = "%" if scale == 100 else meta.unit
        said = joined_wheres(_where(r, key) for r in records if key in r.metrics)
        said = "" if f"({said})" in meta.label else said  # "ops on Edge TPU (compiler)"
        named = f"{meta.label} ({said})" if said else meta.label
        charts.append(Chart(
            anchor,
            f"{named} across runs",
            _figure(traces, axis_title(meta.label, unit, said), timeline.runs),
            f"{named}, {meta.better} is better" if meta.better in ("higher", "lower")
            else f"{named} (no better direction: never a regression)",
        ))
    return charts


def _where(record: Record, key: str) -> str:
    """Where the record's figure was measured, or who placed the ops it counts."""
    info = record.metric_info.get(key, {})
    source, description = str(info.get("source") or ""), str(info.get("description") or "")
    return where(key, source, record.environment, description)


def _hover(run: Run, text: str) -> str:
    return f"{text}<br>{run_label(run)}<br>run {run.id}" + (
        f" on {run.machine}" if run.machine else ""
    )


def _trace(exp, timeline, variant, points, key, meta, scale, index) -> dict:
    runs = [timeline.run(r.run) for r in points]
    links = []
    for i, run in enumerate(runs):  # this run against the one before (the first: the newest)
        other = runs[i - 1] if i else runs[-1]
        pair = (other, run) if i else (run, other)
        links.append(compare_link(exp.slug, variant, pair[0].id, variant, pair[1].id))
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": variant,
        "x": [index[run.id] for run in runs],
        "y": [r.metrics[key] * scale for r in points],
        "customdata": [
            [_hover(run, m.format_value(r.metrics[key], meta.unit)), "../" + link]
            for run, r, link in zip(runs, points, links, strict=True)
        ],
        "hovertemplate": "%{customdata[0]}<extra>%{fullData.name}</extra>",
    }


def _regression_marks(exp, marks: list[Regression], records, meta, scale, index) -> dict:
    """A marker where each regression began: the first run at the worse level."""
    x, y, data = [], [], []
    for g in marks:
        record = next(r for r in records if r.variant == g.variant and r.run == g.first_bad.id)
        x.append(index[g.first_bad.id])
        y.append(record.metrics[g.metric] * scale)
        text = (f"{g.variant}: worse since {g.first_bad.commit_label} "
                f"({m.format_value(g.before, meta.unit)} → {m.format_value(g.after, meta.unit)})"
                f"<br>last good: {run_label(g.last_good)}<br>"
                + ("still present" if g.still_present else "since recovered"))
        link = compare_link(exp.slug, g.variant, g.last_good.id, g.variant, g.first_bad.id)
        data.append([text, "../" + link])
    return {
        "type": "scatter",
        "mode": "markers",
        "name": "regression",
        "x": x,
        "y": y,
        "marker": {"symbol": "triangle-up-open", "size": 16, "color": REGRESSION_COLOR,
                   "line": {"width": 2}},
        "customdata": data,
        "hovertemplate": "%{customdata[0]}<extra>regression</extra>",
    }


def _figure(traces: list[dict], y_title: str, runs: list[Run]) -> dict:
    axis = {"gridcolor": "#e5e5e5", "zeroline": False, "automargin": True}
    return {
        "data": traces,
        "layout": {
            "height": 320,
            "margin": {"l": 70, "r": 20, "t": 20, "b": 60},
            "font": {"family": "system-ui, sans-serif", "size": 12},
            "xaxis": {
                **axis,
                "title": {"text": "run (commit)"},
                "tickmode": "array",
                "tickvals": list(range(len(runs))),
                "ticktext": [run.commit_label for run in runs],
                "range": [-0.5, len(runs) - 0.5],
            },
            "yaxis": {**axis, "title": {"text": y_title}},
            "legend": {"orientation": "h", "y": -0.3},
            "hovermode": "closest",
            "plot_bgcolor": "white",
            "paper_bgcolor": "white",
        },
    }


def runs_table(exp: Experiment, timeline: Timeline) -> Table:
    """Every run that measured a variant of the experiment, newest first."""
    records = timeline.of(exp.name)
    rows = []
    for run in reversed(timeline.runs):
        measured = sorted(r.variant for r in records if r.run == run.id)
        if not measured:
            continue
        rows.append([
            Cell(run.id, sort=run.id),
            Cell(run.started.replace("T", " ").rstrip("Z") or "unknown"),
            Cell(run.commit_label),
            Cell(run.machine or "–"),
            Cell(run.profile or "–"),
            Cell(", ".join(measured), sort=len(measured)),
        ])
    columns = ["run", "started (UTC)", "commit", "machine", "profile", "variants measured"]
    caption = ("A run keeps the records of the variants it measured; "
               "+dirty: tracked files had changes outside results/.")
    return Table(f"runs-{exp.slug}", columns, rows, caption=caption, filterable=False)
