"""The overview (index.html): the verdict of every experiment, a summary table with the best
variant per objective, and the analyzed models."""

from __future__ import annotations

from tpulens.analyzer.estimate import DEFAULT_LINK, LINKS
from tpulens.analyzer.vocabulary import RecordStatus
from tpulens.report import metric_view as m
from tpulens.report.experiments import Experiment, verdict, winner_names
from tpulens.report.overview_chart import tradeoff_chart
from tpulens.report.publisher import Publisher, SiteContent, Writer
from tpulens.report.tables import Cell, Table

SUMMARY_COLUMNS = [
    "experiment",
    "variants",
    "ok / skipped / failed",
    "best accuracy",
    "smallest",
    "fastest on Edge TPU",
    "fastest on host CPU",
    "most on Edge TPU",
    "compare",
]
# The summary's "best …" columns: the first of each group an experiment has.
SUMMARY_METRICS = (
    m.ACCURACY_KEYS,
    ("size_bytes",),
    m.SPEED_KEYS,
    m.LATENCY_KEYS,
    ("edgetpu_share",),
)
SUMMARY_CAPTION = (
    "Fastest on Edge TPU: the Edge TPU latency measured on a device when the run had one, "
    "else the one predicted for {link} (with the predicted range); a variant with no op on the "
    "Edge TPU is never fastest there. Fastest on host CPU: LiteRT on the machine that ran the "
    "suite, which says little about the Edge TPU."
)


class Overview(Publisher):
    name = "overview"
    order = 10
    nav_label = "Overview"
    nav_href = "index.html"

    @classmethod
    def publish(cls, content: SiteContent, writer: Writer) -> None:
        records = content.results.records
        writer.page(
            "index.html",
            "overview.html",
            title="Overview",
            results=content.results,
            experiments=content.experiments,
            verdicts={e.slug: verdict(e) for e in content.experiments},
            summary=summary_table(content.experiments),
            chart=tradeoff_chart([(e.name, e.data) for e in content.experiments]),
            models=content.models,
            costs=content.model_costs,
            commits=sorted({r.git_commit for r in records if r.git_commit}),
            created=sorted(r.created for r in records if r.created),
        )


def _status_counts(exp: Experiment) -> Cell:
    records = exp.data.records
    ok, skipped = (
        sum(r.status == status for r in records)
        for status in (RecordStatus.OK, RecordStatus.SKIPPED)
    )
    return Cell(f"{ok} / {skipped} / {len(records) - ok - skipped}")


def _best_cell(exp: Experiment, keys: tuple[str, ...]) -> Cell:
    """The winner of the first of `keys` the experiment has, with its value."""
    data = exp.data
    key = m.first_present(keys, set(data.frame.columns))
    if not key or not data.best.get(key):
        return Cell("–", cls="missing")
    winner = data.best[key][0]
    record = next(r for r in data.records if r.variant == winner)
    cell = data.cell(record, key, cls="names")
    cell.text = f"{', '.join(winner_names(data, key, data.best[key]))}: {cell.text}"
    # The speed axis names itself ("Edge TPU latency (predicted, USB 3.0)"); others say where.
    cell.note = data.metas[key].label if key in m.SPEED_KEYS else data.where_of(record, key)
    return cell


def summary_table(experiments: list[Experiment]) -> Table:
    rows = [
        [
            Cell(exp.name, href=f"experiments/{exp.slug}.html"),
            Cell(str(len(exp.data.records)), sort=len(exp.data.records)),
            _status_counts(exp),
            *(_best_cell(exp, keys) for keys in SUMMARY_METRICS),
            Cell("compare", href=f"compare/{exp.slug}.html"),
        ]
        for exp in experiments
    ]
    link = LINKS[DEFAULT_LINK].host
    return Table("summary", SUMMARY_COLUMNS, rows, caption=SUMMARY_CAPTION.format(link=link))
