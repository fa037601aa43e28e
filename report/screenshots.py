"""README screenshots of a built site, taken with Playwright driving the system Chromium.

Pages are opened from file:// with every non-file request aborted, so a screenshot also
proves the page needs nothing from the network.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

from tpulens.analyzer.vocabulary import Placement, Verdict
from tpulens.errors import InputError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT = {"width": 1200, "height": 760}


@contextmanager
def chromium():
    """A headless system Chromium (never a Playwright-downloaded browser)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise InputError(
            "screenshots need the playwright package (pip install playwright)"
        ) from err
    if not Path(CHROMIUM).exists():
        raise InputError(f"{CHROMIUM}: not found (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def offline_page(browser):
    """A page whose requests may only read local files."""
    page = browser.new_page(viewport=VIEWPORT)
    page.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort(),
    )
    return page


def take_screenshots(site: Path, out_dir: Path) -> list[Path]:
    """overview.png (the trade-off chart and the verdicts), diagnostics.png (the op graph of the
    model with the most CPU ops, where its partition breaks selected) and, when an experiment
    has detection pictures, detections.png."""
    site, out_dir = Path(site).resolve(), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = [("overview.png", (site / "index.html").as_uri(), None)]
    analysis = _most_interesting_model(site)
    if analysis is not None:
        page = analysis.with_name(analysis.name.removesuffix(".analysis.json") + ".html")
        shots.append(("diagnostics.png", page.as_uri() + _first_break(analysis), "#op-graph"))
    pictures = _page_with(site / "experiments", 'id="detections"')
    if pictures is not None:
        shots.append(("detections.png", pictures.as_uri(), "#detections"))
    written = []
    with chromium() as browser:
        page = offline_page(browser)
        for name, url, anchor in shots:
            page.goto(url)
            page.wait_for_load_state("load")
            page.wait_for_timeout(500)  # charts drawn
            if anchor:
                page.evaluate(f"document.querySelector('{anchor}').scrollIntoView()")
            page.screenshot(path=str(out_dir / name))
            _shrink(out_dir / name)
            written.append(out_dir / name)
    return written


def _page_with(folder: Path, marker: str) -> Path | None:
    """The first page of `folder` (sorted) whose HTML holds `marker`."""
    pages = sorted(folder.glob("*.html")) if folder.is_dir() else []
    return next((p for p in pages if marker in p.read_text(encoding="utf-8")), None)


def _shrink(path: Path) -> None:
    """Palette PNG (256 colours): a third of the size for flat UI pictures, for the README."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def _summary_and_ops(path: Path) -> tuple[dict, list]:
    """An analysis JSON's summary and ops, empty where the file says otherwise."""
    try:
        data = json.loads(path.read_text())
    except ValueError:
        data = None
    data = data if isinstance(data, dict) else {}
    summary, ops = data.get("summary"), data.get("ops")
    return summary if isinstance(summary, dict) else {}, ops if isinstance(ops, list) else []


def _first_break(analysis: Path) -> str:
    """The fragment selecting where the Edge TPU partition breaks: the first root-cause op,
    else the first CPU op ("" when every op is on the Edge TPU)."""
    ops = [op for op in _summary_and_ops(analysis)[1] if isinstance(op, dict)]
    for op in ops:
        if isinstance(op.get("root_cause"), int):
            return f"#op-{op.get('subgraph', 0)}-{op['root_cause']}"
    cpu = next((op for op in ops if op.get("placement") == Placement.CPU), None)
    return f"#op-{cpu.get('subgraph', 0)}-{cpu.get('index')}" if cpu else ""


def _most_interesting_model(site: Path) -> Path | None:
    """The analysis of a model split between TPU and CPU (the point of the page), else one with
    CPU ops."""
    pages = sorted((site / "models").glob("*.analysis.json"))
    if not pages:
        return None

    def interest(path: Path) -> tuple[bool, bool, int]:
        summary = _summary_and_ops(path)[0]
        cpu = summary.get("ops_cpu") if isinstance(summary.get("ops_cpu"), int) else 0
        return summary.get("verdict") == Verdict.PARTIAL, cpu > 0, cpu

    return max(pages, key=interest)  # max keeps the first of equals: sorted, so deterministic
