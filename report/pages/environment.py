"""Where each measured number was produced (machines, versions, commits, dates) and every
input that could not be used."""

from __future__ import annotations

import json

from tpulens.report.load import Results
from tpulens.report.publisher import Publisher, SiteContent, Writer


class Environment(Publisher):
    name = "environment"
    order = 60
    nav_label = "Environment"
    nav_href = "environment.html"

    @classmethod
    def publish(cls, content: SiteContent, writer: Writer) -> None:
        writer.page(
            "environment.html",
            "environment.html",
            title="Environment",
            environments=environments(content.results),
            problems=content.results.problems,
        )


def environments(results: Results) -> list[dict]:
    """Records grouped by identical environment, with their commits and creation dates."""
    groups: dict[str, dict] = {}
    for record in results.records:
        key = json.dumps(record.environment, sort_keys=True)
        group = groups.setdefault(
            key, {"environment": record.environment, "records": [], "commits": set(), "created": []}
        )
        group["records"].append(f"{record.experiment}/{record.variant}")
        if record.git_commit:
            group["commits"].add(record.git_commit)
        if record.created:
            group["created"].append(record.created)
    return [
        {
            "environment": sorted((str(k), _text(v)) for k, v in g["environment"].items()),
            "records": sorted(g["records"]),
            "commits": sorted(g["commits"]),
            "created": (min(g["created"]), max(g["created"])) if g["created"] else None,
        }
        for g in (groups[key] for key in sorted(groups))
    ]


def _text(value: object) -> str:
    if value is None:
        return "–"
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
