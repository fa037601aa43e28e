"""One diagnostics page per analyzed model, with its analysis JSON, Model Explorer node data
and (when small and from an allowed folder) the .tflite for Netron; and an index of them."""

from __future__ import annotations

from tpulens.report.diagnostics import node_data
from tpulens.report.files import MAX_MODEL_BYTES, Unusable, read_regular
from tpulens.report.publisher import Publisher, SiteContent, Writer

from tpulens.errors import InputError


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
        for analysis, page in zip(content.results.analyses, content.models, strict=True):
            writer.write(f"models/{page.slug}.analysis.json", analysis.raw)
            writer.json(f"models/{page.slug}.node_data.json", node_data(analysis.data))
            if analysis.tflite:
                try:
                    model = read_regular(analysis.tflite, MAX_MODEL_BYTES)
                except Unusable as err:  # changed since it was checked
                    raise InputError(f"{analysis.tflite}: {err}") from err
                writer.write(f"models/{page.slug}.tflite", model)
            writer.page(f"models/{page.slug}.html", "model.html", title=page.title, m=page)
        if content.models:
            writer.page(
                "models/index.html", "models.html", title="Model diagnostics", models=content.models
            )
