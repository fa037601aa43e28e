"""Build the static site: results directory → pages under one output directory.

Each kind of page is a publisher (tpulens.report.pages). Output is deterministic (sorted inputs,
no build timestamps, stable chart ids) and every link is relative, so the same directory works
from file://, `tpulens serve` and a GitHub Pages sub-path.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import jinja2

from tpulens.errors import InputError
from tpulens.history.settings import Settings
from tpulens.report import metric_view as m
from tpulens.report.diagnostics import model_pages
from tpulens.report.experiments import experiments_of
from tpulens.report.files import DEFAULT_MODEL_FILES, ModelFiles
from tpulens.report.graph_layout import DotBudget
from tpulens.report.labels import PLACEMENT_COLORS, SOURCE_LABELS
from tpulens.report.load import load_results
from tpulens.report.origin import results_origin, run_commits
from tpulens.report.pages import PUBLISHERS
from tpulens.report.publisher import SiteContent, Writer

TEMPLATES = "tpulens.templates"  # the package holding the Jinja2 templates and assets/
MARKER = ".tpulens-site"
PLOTLY_ASSET = "assets/plotly.min.js"


@dataclass
class BuildResult:
    out: Path
    pages: list[str]
    problems: list[str]


def jinja_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATES, "."),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = m.format_value
    env.filters["urlq"] = lambda s: quote(str(s), safe="")
    env.globals["placement_colors"] = {str(k).lower(): v for k, v in PLACEMENT_COLORS.items()}
    env.globals["source_labels"] = list(SOURCE_LABELS.values())
    return env


def _prepare(out: Path) -> Path:
    """A fresh temporary directory beside `out`; refuses to replace a directory it did not
    build, so `--out ~/` cannot wipe a home directory."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise InputError(f"{out}: exists and is not a tpulens site; choose another --out")
    tmp = out.parent / f".{out.name}.building"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def build_site(
    results_dir: Path | None,
    out: Path,
    extra_analyses: list[Path] = (),
    plotly_js: str | None = None,
    settings: Settings | None = None,
    model_files: ModelFiles = DEFAULT_MODEL_FILES,
) -> BuildResult:
    """Render every page for results_dir (None: only the extra analyses) into out, replaced
    atomically when done; `settings` (default: the built-in thresholds) judge regressions."""
    out = Path(out)
    if results_dir is not None and not Path(results_dir).is_dir():
        raise InputError(f"{results_dir}: results directory not found")
    DotBudget.reset()
    results = load_results(results_dir, list(extra_analyses))
    if results_dir is None and not results.analyses:
        raise InputError("; ".join(results.problems) or "no analysis to publish")
    content = SiteContent(
        results,
        experiments_of(results),
        model_pages(results, model_files),
        settings or Settings(),
        model_files,
        results_origin(results_dir, len(extra_analyses), run_commits(results)),
    )
    tmp = _prepare(out)
    try:
        pages = render(content, tmp, plotly_js)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return BuildResult(out, pages, results.problems)


def render(content: SiteContent, out: Path, plotly_js: str | None = None) -> list[str]:
    """The shared assets, then every publisher's pages in order; the pages written."""
    publishers = sorted(PUBLISHERS, key=lambda publisher: publisher.order)
    nav = [link for publisher in publishers if (link := publisher.nav(content))]
    writer = Writer(out, jinja_env(), nav, content.origin)
    writer.write(MARKER, b"built by tpulens report\n")
    for asset in sorted((resources.files(TEMPLATES) / "assets").iterdir(), key=lambda a: a.name):
        writer.write(f"assets/{asset.name}", asset.read_bytes())
    if plotly_js is None:
        from plotly.offline import get_plotlyjs

        plotly_js = get_plotlyjs()
    writer.write(PLOTLY_ASSET, plotly_js.encode())
    for publisher in publishers:
        publisher.publish(content, writer)
    return writer.pages
