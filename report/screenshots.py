"""README screenshots of a built site, taken with Playwright driving the system Chromium.

Pages are opened from file:// with every non-file request aborted, so a screenshot also
proves the page needs nothing from the network.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

from tpulens.analyzer.vocabulary import Verdict

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
    """overview.png (the index) and diagnostics.png (the model with the most CPU ops)."""
    site, out_dir = Path(site).resolve(), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = [("overview.png", site / "index.html")]
    model = _most_interesting_model(site)
    if model is not None:
        shots.append(("diagnostics.png", model))
    written = []
    with chromium() as browser:
        page = offline_page(browser)
        for name, path in shots:
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            page.screenshot(path=str(out_dir / name))
            _shrink(out_dir / name)
            written.append(out_dir / name)
    return written


def _shrink(path: Path) -> None:
    """Palette PNG (256 colours): a third of the size for flat UI pictures, for the README."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def _most_interesting_model(site: Path) -> Path | None:
    """A model split between TPU and CPU (the point of the page), else one with CPU ops."""
    pages = sorted((site / "models").glob("*.analysis.json"))
    if not pages:
        return None

    def interest(path: Path) -> tuple[bool, bool, int]:
        try:
            summary = json.loads(path.read_text()).get("summary")
        except (ValueError, AttributeError):
            summary = None
        summary = summary if isinstance(summary, dict) else {}
        cpu = summary.get("ops_cpu") if isinstance(summary.get("ops_cpu"), int) else 0
        return summary.get("verdict") == Verdict.PARTIAL, cpu > 0, cpu

    best = max(pages, key=interest)  # max keeps the first of equals: sorted, so deterministic
    return best.with_name(best.name.removesuffix(".analysis.json") + ".html")
