"""The seam every page goes through: a Publisher writes one kind of page from the site's
content with a Writer. The registry (tpulens.report.pages.PUBLISHERS) gives the build order and
the navigation, so a new page is one module and one line there."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import jinja2

from tpulens import safefs
from tpulens.errors import InputError
from tpulens.history.settings import Settings
from tpulens.report.cost import Cost, model_costs
from tpulens.report.diagnostics import ModelPage
from tpulens.report.experiments import Experiment
from tpulens.report.files import DEFAULT_MODEL_FILES, ModelFiles
from tpulens.report.load import Results
from tpulens.report.timeline import Timeline, timeline_of


@dataclass(frozen=True)
class NavLink:
    label: str
    href: str  # relative to the site root


@dataclass
class SiteContent:
    """What every publisher reads: the loaded results and the page models built once."""

    results: Results
    experiments: list[Experiment]
    models: list[ModelPage]
    settings: Settings = field(default_factory=Settings)  # what counts as a regression
    model_files: ModelFiles = DEFAULT_MODEL_FILES  # which model files are published
    origin: str = ""  # where the results came from, for the footer of every page

    @cached_property
    def timeline(self) -> Timeline:
        """Every run's records and the regressions among them (history pages, feed, compare)."""
        return timeline_of(self.results, self.settings)

    @cached_property
    def model_costs(self) -> dict[str, Cost | None]:
        """Each model page's Edge TPU cost by its slug (the model pages and the overview)."""
        return model_costs(self.results.analyses, self.models)


class Writer:
    """Renders templates into the output directory, with `root` set for relative links and
    the navigation on every page; remembers the pages written."""

    def __init__(self, out: Path, env: jinja2.Environment, nav: list[NavLink], origin: str = ""):
        self.out, self.env, self.nav, self.origin, self.pages = out, env, nav, origin, []

    def page(self, rel: str, template: str, **context) -> None:
        root = "../" * rel.count("/")
        html = self.env.get_template(template).render(
            root=root, nav=self.nav, page=rel, origin=self.origin, **context
        )
        self.write(rel, html.encode("utf-8", "replace"))  # a lone surrogate becomes "?"
        self.pages.append(rel)

    def write(self, rel: str, data: bytes) -> None:
        """Write a file of the site, inside `out` and never through a link found there."""
        try:
            safefs.Root.of(self.out).write_bytes(rel, data)
        except safefs.Unusable as err:
            raise InputError(f"{self.out}: cannot write {rel}: {err}") from None

    def json(self, rel: str, data: object) -> None:
        text = json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
        self.write(rel, text.encode("utf-8", "replace"))


class Publisher:
    """One kind of page. Set the class attributes and write the pages in `publish`."""

    name: ClassVar[str]  # unique, for tests and messages
    order: ClassVar[int]  # build and navigation order, lowest first
    nav_label: ClassVar[str | None] = None  # None: not in the navigation bar
    nav_href: ClassVar[str] = ""  # where the navigation entry leads

    @classmethod
    def has_content(cls, content: SiteContent) -> bool:
        """Whether there is anything to show; the navigation leaves the page out otherwise."""
        return True

    @classmethod
    def nav(cls, content: SiteContent) -> NavLink | None:
        if cls.nav_label is None or not cls.has_content(content):
            return None
        return NavLink(cls.nav_label, cls.nav_href)

    @classmethod
    def publish(cls, content: SiteContent, writer: Writer) -> None:
        raise NotImplementedError
