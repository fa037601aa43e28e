"""The site over time in Debian's Chromium, opened from file://: the history chart draws every
run with the commit on hover and a click opens that comparison; the regressions page leads to
the runs around the step; a compare permalink reproduces the view it was copied from."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from test_report_browser import ALL_CHARTS_DRAWN, WatchedPage
from test_report_history import LATENCY, write_stepped_history

from tpulens.report.screenshots import CHROMIUM
from tpulens.report.site import build_site

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed"),
]
C07, C08, C10 = "20260108T000000Z-c07", "20260109T000000Z-c08", "20260111T000000Z-c10"
# Where plotly drew a point of a chart, in page coordinates.
POINT = """([id, curve, point]) => {
    const gd = document.getElementById(id), layout = gd._fullLayout;
    const box = gd.getBoundingClientRect(), trace = gd.data[curve];
    return [box.left + layout._size.l + layout.xaxis.d2p(trace.x[point]),
            box.top + layout._size.t + layout.yaxis.d2p(trace.y[point])];
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("history-browser")
    write_stepped_history(root / "results")
    return build_site(root / "results", root / "site").out


@pytest.fixture
def watched(browser):
    watched = WatchedPage(browser)
    yield watched
    assert not watched.errors and not watched.outside, (watched.errors, watched.outside)
    watched.page.close()


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_history_chart_hover_and_click(site, watched):
    page = watched.open((site / "history/quantization.html").as_uri())
    page.wait_for_function(ALL_CHARTS_DRAWN, timeout=15_000)
    drawn = page.evaluate("""() => document.getElementById('metric-latency_ms_p50').data
        .map(t => [t.name, t.x.length])""")
    assert drawn == [["float32", 12], ["int8", 12], ["regression", 1]]
    x, y = page.evaluate(POINT, ["metric-latency_ms_p50", 1, 8])
    page.mouse.move(x, y)
    label = page.locator(".hoverlayer .hovertext").first
    label.wait_for(timeout=5_000)
    assert "c08" in label.text_content() and f"{LATENCY[8]:.3f} ms" in label.text_content()
    page.mouse.click(x, y)
    page.wait_for_url("**/compare/quantization.html?*")
    assert query(page.url) == {"a": "int8", "a_run": C07, "b": "int8", "b_run": C08}
    assert page.input_value("#cmp-b-run") == C08
    assert page.text_content("#cmp-head-b").startswith("B: int8 · 2026-01-09")


def test_regressions_page_leads_to_the_step(site, watched):
    page = watched.open((site / "regressions.html").as_uri())
    rows = page.locator("#regressions tbody tr")
    assert rows.count() == 2
    first = rows.first
    assert first.locator("td").nth(2).text_content() == "latency p50"
    assert first.locator("td").nth(7).text_content().endswith("c08")
    first.locator("td").nth(9).locator("a").click()
    page.wait_for_url("**/compare/quantization.html?*")
    latency = page.locator("#cmp-metrics tbody tr", has_text="latency p50").first
    cells = latency.locator("td")
    assert cells.nth(0).text_content().startswith(f"{LATENCY[7]:.3f} ms")
    assert cells.nth(1).text_content().startswith(f"{LATENCY[8]:.3f} ms")
    assert "worse" in cells.nth(2).get_attribute("class")
    page.go_back()
    page.locator("#regressions tbody tr").first.locator("td").nth(2).locator("a").click()
    page.wait_for_url("**/history/quantization.html#metric-latency_ms_p50")


def test_compare_permalink_reproduces_the_view(site, watched, browser):
    page = watched.open((site / "compare/quantization.html").as_uri())
    assert (page.input_value("#cmp-a"), page.input_value("#cmp-b")) == ("0", "1")  # latest
    page.select_option("#cmp-a", label="int8")
    page.select_option("#cmp-a-run", value=C07)
    page.select_option("#cmp-b", label="int8")
    page.select_option("#cmp-b-run", value=C10)
    view = page.inner_text("#compare")
    assert "int8 · 2026-01-08 00:00 · c07" in view and "#9 CONV_2D: TPU → CPU" in view
    permalink = page.eval_on_selector("#cmp-permalink", "a => a.href")
    assert page.url == permalink  # the address follows the pick
    assert query(permalink) == {"a": "int8", "a_run": C07, "b": "int8", "b_run": C10}

    other = WatchedPage(browser)
    copy = other.open(permalink)
    assert copy.inner_text("#compare") == view
    assert not other.errors and not other.outside
    gone = other.open(permalink.replace(C07, "20250101T000000Z-gone"))
    assert "does not have" in gone.text_content("#cmp-note")
    assert gone.input_value("#cmp-a-run") == "20260112T000000Z-c11"  # that variant's latest
    assert not other.errors and not other.outside
