"""One page per experiment: verdict, every variant with provenance, trade-off charts, the
tables in the shape of the original write-ups and the parameters that differ."""

from __future__ import annotations

from tpulens.report.charts import experiment_charts
from tpulens.report.experiments import verdict
from tpulens.report.publisher import Publisher, SiteContent, Writer
from tpulens.report.tables import (
    ExperimentData,
    Table,
    coco_table,
    comparison_table,
    compression_table,
    params_table,
    quantization_table,
)


class Experiments(Publisher):
    name = "experiments"
    order = 20
    nav_label = "Experiments"
    nav_href = "index.html#experiments"  # the overview's table of every experiment

    @classmethod
    def has_content(cls, content: SiteContent) -> bool:
        return bool(content.experiments)

    @classmethod
    def publish(cls, content: SiteContent, writer: Writer) -> None:
        for exp in content.experiments:
            for row in exp.examples.rows if exp.examples else []:
                for picture in filter(None, row):
                    writer.write(f"experiments/{picture.file}", picture.data)
            writer.page(
                f"experiments/{exp.slug}.html",
                "experiment.html",
                title=exp.name,
                exp=exp,
                verdict=verdict(exp),
                comparison=comparison_table(exp.data, "../"),
                params=params_table(exp.data),
                charts=experiment_charts(exp.data),
                studies=study_tables(exp.data),
                examples=exp.examples,
            )


def study_tables(data: ExperimentData) -> list[tuple[str, Table]]:
    """The tables in the shape of the original write-ups, where their metrics exist."""
    tables = [
        ("Quantization objective", quantization_table(data)),
        ("Accuracy and compression", compression_table(data)),
        ("COCO metrics", coco_table(data)),
    ]
    return [(heading, t) for heading, t in tables if t is not None]
