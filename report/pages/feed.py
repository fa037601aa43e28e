"""The regressions as an Atom feed (RFC 4287), so a feed reader hears of a new one: an entry per
regression, its permalink the compare page on the last good and the first bad run.

Links are relative to the feed (the site may be served from any address; a reader resolves them
against the feed's own URL). Ids are `urn:uuid:`s derived from what they name, and times come
from the runs, so the same results build the same feed. A time a run does not record (or records
in another form) is written as the epoch."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime

from tpulens.history.steps import Regression
from tpulens.history.store import TIME_FORMAT, Run
from tpulens.metrics import label
from tpulens.report.pages.regressions import FEED, Regressions, summary
from tpulens.report.publisher import Publisher, SiteContent, Writer
from tpulens.report.timeline import compare_link

ATOM = "http://www.w3.org/2005/Atom"
EPOCH = "1970-01-01T00:00:00Z"
# Characters XML 1.0 cannot carry at all (ElementTree writes them and the feed breaks); names in
# results/ may hold any.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Feed(Publisher):
    name = "feed"
    order = 26  # linked from the regressions page

    @classmethod
    def publish(cls, content: SiteContent, writer: Writer) -> None:
        if not Regressions.has_content(content):
            return
        slugs = {exp.name: exp.slug for exp in content.experiments}
        writer.write(FEED, atom_feed(content.timeline.regressions, content.timeline.runs, slugs))


def atom_time(run: Run) -> str:
    """The run's start as an RFC 3339 time, the epoch when it has none."""
    try:
        return datetime.strptime(run.started, TIME_FORMAT).strftime(TIME_FORMAT)
    except (TypeError, ValueError):
        return EPOCH


def urn(name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'tpulens:' + name)}"


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: NOT_XML.sub("\ufffd", v) for k, v in attrs.items()})
    element.text = NOT_XML.sub("\ufffd", text) if text else None
    return element


def atom_feed(regressions: list[Regression], runs: list[Run], slugs: dict[str, str]) -> bytes:
    """The feed of `regressions` (newest first is their order already; readers sort anyway)."""
    feed = ET.Element("feed", xmlns=ATOM)
    _add(feed, "title", "tpulens: regressions")
    _add(feed, "subtitle", "Metrics that stepped to a worse level across benchmark runs")
    _add(feed, "id", urn("regressions:" + "\n".join(sorted(slugs))))
    _add(feed, "updated", max((atom_time(run) for run in runs), default=EPOCH))
    _add(_add(feed, "author"), "name", "tpulens")
    _add(feed, "generator", "tpulens")
    _add(feed, "link", rel="self", type="application/atom+xml", href=FEED)
    _add(feed, "link", rel="alternate", type="text/html", href="regressions.html")
    for g in regressions:
        entry = _add(feed, "entry")
        status = "still worse" if g.still_present else "recovered"
        _add(entry, "title", f"{g.experiment}/{g.variant}: {label(g.metric)} worse since "
                             f"{g.first_bad.commit_label} ({status})")
        _add(entry, "id", urn("/".join(("regression", g.experiment, g.variant, g.metric,
                                        g.first_bad.id))))
        _add(entry, "updated", atom_time(g.first_bad))
        slug = slugs.get(g.experiment)
        href = compare_link(slug, g.variant, g.last_good.id, g.variant, g.first_bad.id) \
            if slug else "regressions.html"
        _add(entry, "link", rel="alternate", type="text/html", href=href)
        _add(entry, "summary", summary(g), type="text")
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"
