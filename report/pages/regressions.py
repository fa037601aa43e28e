"""The regressions page: every metric of every variant that stepped to a worse level across the
runs, since which commit (the first run at the new level, after the last good one), and whether
it is still worse now: step detection over the history, as asv's regressions page, each step
judged by tpulens.history.judgment as `tpulens diff` judges the same two runs."""

from __future__ import annotations

from tpulens.history.steps import Regression
from tpulens.report import metric_view as m
from tpulens.report.pages.trends import metric_anchors
from tpulens.report.publisher import Publisher, SiteContent, Writer
from tpulens.report.tables import Cell, Table
from tpulens.report.timeline import Timeline, compare_link, run_label

FEED = "regressions.xml"
COLUMNS = ["experiment", "variant", "metric", "before", "after", "change", "last good",
           "first bad", "now", "compare"]


class Regressions(Publisher):
    name = "regressions"
    order = 25
    nav_label = "Regressions"
    nav_href = "regressions.html"

    @classmethod
    def has_content(cls, content: SiteContent) -> bool:
        return bool(content.experiments)

    @classmethod
    def publish(cls, content: SiteContent, writer: Writer) -> None:
        if not cls.has_content(content):
            return  # a site of analyses alone has no runs
        timeline = content.timeline
        slugs = {exp.name: exp.slug for exp in content.experiments}
        writer.page(
            "regressions.html",
            "regressions.html",
            title="Regressions",
            found=regressions_table(timeline, slugs),
            runs=len(timeline.runs),
            still=sum(g.still_present for g in timeline.regressions),
            feed=FEED,
        )


def change_text(before: float, after: float, unit: str) -> str:
    """A level change as the reader thinks of it: points for fractions, per cent otherwise."""
    if unit == "fraction":
        return f"{(after - before) * 100:+.2f} pp"
    if before:
        return f"{(after - before) / abs(before) * 100:+.1f} %"
    return f"{after - before:+.4g}"


def summary(g: Regression) -> str:
    """One sentence for the feed and tooltips."""
    unit = m.meta(g.metric, {"unit": g.unit}).unit
    return (
        f"{g.experiment}/{g.variant}: {m.label(g.metric)} went from "
        f"{m.format_value(g.before, unit)} to {m.format_value(g.after, unit)} "
        f"({change_text(g.before, g.after, unit)}) at commit {g.first_bad.commit_label} "
        f"(run {g.first_bad.id}; last good: {g.last_good.commit_label}, run {g.last_good.id}). "
        + (f"Still worse: latest {m.format_value(g.latest, unit)}." if g.still_present
           else f"Since recovered: latest {m.format_value(g.latest, unit)}.")
    )


def regressions_table(timeline: Timeline, slugs: dict[str, str]) -> Table:
    rows, anchors = [], {}
    for g in timeline.regressions:
        slug = slugs.get(g.experiment)
        if g.experiment not in anchors:
            anchors[g.experiment] = metric_anchors(timeline.of(g.experiment))
        unit = m.meta(g.metric, {"unit": g.unit}).unit
        history = f"history/{slug}.html#{anchors[g.experiment][g.metric]}" if slug else ""
        link = compare_link(slug, g.variant, g.last_good.id, g.variant, g.first_bad.id) \
            if slug else ""
        rows.append([
            Cell(g.experiment, href=f"experiments/{slug}.html" if slug else ""),
            Cell(g.variant),
            Cell(m.label(g.metric), href=history, title="its history chart"),
            Cell(m.format_value(g.before, unit), sort=g.before),
            Cell(m.format_value(g.after, unit), sort=g.after, cls="worse"),
            Cell(change_text(g.before, g.after, unit)),
            Cell(run_label(g.last_good), sort=g.last_good.id, title=f"run {g.last_good.id}"),
            Cell(run_label(g.first_bad), sort=g.first_bad.id, title=f"run {g.first_bad.id}"),
            Cell(("still worse: " if g.still_present else "recovered: ")
                 + m.format_value(g.latest, unit), sort=g.latest,
                 cls="worse" if g.still_present else "better"),
            Cell("last good vs first bad" if link else "–", href=link),
        ])
    caption = ("Still-present regressions first, then the newest. A regression is a step the "
               "records of the last good and the first bad run show as worse, judged as "
               "tpulens diff judges those two runs: beyond the metric's threshold, timing only "
               "between runs on the same recorded machine (CPU, thread count) and beyond its "
               "samples' noise, never when most variants' timing moved together (the machine). "
               "Before and after are those two records' values.")
    return Table("regressions", COLUMNS, rows, caption=caption)
