"""The ops the Edge TPU compiler maps, generated from the analyzer's rule table."""

from __future__ import annotations

from tpulens.analyzer.reference import supported_ops
from tpulens.report.publisher import Publisher, SiteContent, Writer


class SupportedOps(Publisher):
    name = "supported-ops"
    order = 50
    nav_label = "Supported ops"
    nav_href = "supported-ops.html"

    @classmethod
    def publish(cls, content: SiteContent, writer: Writer) -> None:
        writer.page(
            "supported-ops.html", "supported_ops.html", title="Supported ops", rules=supported_ops()
        )
