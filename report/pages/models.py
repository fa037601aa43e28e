"""One diagnostics page per analyzed model, with its analysis JSON, Model Explorer node data
and (unless --no-models, when under the size cap and from an allowed folder) the .tflite for
download and Netron; and an index of them."""

from __future__ import annotations

from tpulens.errors import InputError
from tpulens.report.diagnostics import node_data
from tpulens.report.files import Unusable, read_regular
from tpulens.report.publisher import Publisher, SiteContent, Writer


class Models(Publisher):
    name = "models"
    order = 40
    nav_label = "Model diagnostics"
    nav_href = "models/index.html"

    @classmethod
    def has_content(cls, content: SiteContent) -> bool:
        return bool(content.models)

    @classmethod
    def publish(cls, content: SiteContent, writer: Writer) -> None:
        costs = content.model_costs
        for analysis, page in zip(content.results.analyses, content.models, strict=True):
            writer.write(f"models/{page.slug}.analysis.json", analysis.raw)
            writer.json(f"models/{page.slug}.node_data.json", node_data(analysis.data))
            if page.model_file:
                try:
                    model = read_regular(analysis.tflite, content.model_files.max_bytes)
                except Unusable as err:  # changed since it was checked
                    raise InputError(f"{analysis.tflite}: {err}") from err
                writer.write(f"models/{page.model_file}", model)
            writer.page(
                f"models/{page.slug}.html",
                "model.html",
                title=page.title,
                m=page,
                cost=costs[page.slug],
            )
        if content.models:
            writer.page(
                "models/index.html",
                "models.html",
                title="Model diagnostics",
                models=content.models,
                costs=costs,
            )

