"""The built site in a real browser (Debian's Chromium via Playwright), opened from file://:
every page crawled, no console errors, charts drawn, links resolve, nothing fetched from
outside, hostile names inert, table filter/sort and the compare page work."""

from __future__ import annotations

import functools
import json
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

import pytest
import sample_results as sample

from tpulens.report.cli_serve import QuietHandler
from tpulens.report.site import build_site

pytestmark = pytest.mark.slow

HOSTILE = '"><script>window.__pwned=1;alert(1)</script>'
HOSTILE_IMG = '\'"><img src=x onerror="window.__pwned=2;alert(2)">'
HOSTILE_FILE = "x'\"><svg onload=alert(3)>"  # no '/': file and directory names
# Every link's absolute URL, the op graph's SVG links (whose href is not a string) included.
ABSOLUTE_HREFS = "els => els.map(e => new URL(e.getAttribute('href'), location.href).href)"
ALL_CHARTS_DRAWN = """() => [...document.querySelectorAll('.plotly-chart')]
    .every(d => d.querySelector('.main-svg'))"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("browser")
    results = sample.write_study_results(root / "results")
    ops = [
        sample.op(0, HOSTILE, "TPU", sample.MAPPED, name=HOSTILE_IMG),
        sample.op(1, "CUSTOM", "CPU", HOSTILE, "UNSUPPORTED_OP", name=HOSTILE),
    ]
    sample.write(results, f"analysis/{HOSTILE_FILE}.json", sample.analysis(HOSTILE_IMG, ops))
    sample.write(
        results,
        f"{HOSTILE_FILE}/{HOSTILE_FILE}.json",
        sample.record(
            HOSTILE,
            HOSTILE_IMG,
            {"accuracy": 0.5, "size_bytes": 10, "latency_ms_p50": 1.0},
            analysis=f"analysis/{HOSTILE_FILE}.json",
            notes=[HOSTILE],
        ),
    )
    sample.write(
        results,
        f"{HOSTILE_FILE}/b.json",
        sample.record(HOSTILE, "b", {"accuracy": 0.4, "size_bytes": 5, "latency_ms_p50": 2.0}),
    )
    (root / "tiny.tflite").write_bytes(b"not really a model, just published bytes")
    sample.write(root, "tiny.json", sample.chain_analysis("tiny.tflite", 4, 2))
    return results, build_site(results, root / "site", [root / "tiny.json"]).out


class WatchedPage:
    """A page that records console errors, script errors, dialogs and outside requests."""

    def __init__(self, browser):
        self.page = browser.new_page()
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.route("**/*", self._route)

    def _route(self, route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def open(self, url: str):
        self.page.goto(url)
        self.page.wait_for_load_state("load")
        return self.page


def local_path(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def test_crawl_every_page(site, browser):
    _, root = site
    watched = WatchedPage(browser)
    queue, seen, ids, fragments = [(root / "index.html").as_uri()], set(), {}, []
    charts = 0
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        page = watched.open(url)
        n = page.locator(".plotly-chart").count()
        if n:
            page.wait_for_function(ALL_CHARTS_DRAWN, timeout=15_000)
            charts += n
        assert page.evaluate("window.__pwned") is None, url
        page_ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
        assert len(page_ids) == len(set(page_ids)), f"{url}: duplicate ids"
        ids[url] = set(page_ids)
        for href in page.eval_on_selector_all("a[href]", ABSOLUTE_HREFS):
            if href.startswith("https://netron.app/"):
                continue  # the one outside link, for the user to follow
            assert href.startswith("file://"), f"{url}: link {href}"
            target, _, fragment = href.partition("#")
            target = target.split("?")[0]
            assert local_path(target).is_file(), f"{url}: broken link {href}"
            if fragment:
                fragments.append((url, target, fragment))
            if target.endswith(".html"):
                queue.append(target)
    assert not watched.errors, watched.errors
    assert not watched.outside, watched.outside
    for page_url, target, fragment in fragments:
        assert unquote(fragment) in ids[target], f"{page_url}: missing anchor #{fragment}"
    pages = {p.as_uri() for p in root.rglob("*.html")}
    assert pages == seen  # every page is reachable from the overview
    expected = sum(p.read_text().count('class="plotly-chart"') for p in root.rglob("*.html"))
    assert charts == expected >= 9


def test_op_table_filter_and_sort(site, browser):
    results, root = site
    analysis = json.loads((results / "analysis/detection-int8.json").read_text())
    watched = WatchedPage(browser)
    page = watched.open((root / "models/detection-int8.html").as_uri())
    assert page.locator("#ops-detection-int8 tbody tr[id]").count() == len(analysis["ops"])
    rows = page.locator("#ops-detection-int8 tbody tr[id]:not([hidden])")
    assert rows.count() < len(analysis["ops"])  # runs of alike ops are folded
    page.fill('input[data-filter="ops-detection-int8"]', "CUSTOM")
    assert rows.count() == sum(op["opcode"] == "CUSTOM" for op in analysis["ops"])
    page.fill('input[data-filter="ops-detection-int8"]', "")
    page.select_option('select[data-filter-select="ops-detection-int8"]', "CPU")
    assert rows.count() == sum(op["placement"] == "CPU" for op in analysis["ops"])
    count = page.text_content('[data-count="ops-detection-int8"]')
    assert count.startswith(f"{rows.count()} of {len(analysis['ops'])}")

    page = watched.open((root / "experiments/quantization.html").as_uri())
    page.click("#cmp-quantization thead th:has-text('accuracy')")
    first = page.text_content("#cmp-quantization tbody tr:first-child td:first-child")
    records = [json.loads(p.read_text()) for p in (results / "quantization").glob("*.json")]
    with_acc = [r for r in records if "accuracy" in r["metrics"]]
    assert first == min(with_acc, key=lambda r: r["metrics"]["accuracy"])["variant"]
    assert not watched.errors and not watched.outside


def test_overview_model_filter(site, browser):
    """The overview's model table filters (it once shared its id with a heading and threw)."""
    _, root = site
    watched = WatchedPage(browser)
    page = watched.open((root / "index.html").as_uri())
    rows = page.locator("#models tbody tr:not([hidden])")
    total = rows.count()
    page.fill('input[data-filter="models"]', "detection/int8")
    assert rows.count() == 1 < total
    assert page.text_content('[data-count="models"]') == f"1 of {total} rows"
    assert not watched.errors and not watched.outside


def test_compare_two_variants(site, browser):
    results, root = site
    a, b = (
        json.loads((results / f"quantization/{v}.json").read_text()) for v in ("float32", "int8")
    )
    watched = WatchedPage(browser)
    page = watched.open((root / "compare/quantization.html").as_uri() + "?a=float32&b=int8")
    row = page.locator("#cmp-metrics tbody tr", has_text="accuracy").first
    delta = (b["metrics"]["accuracy"] - a["metrics"]["accuracy"]) * 100
    assert row.locator("td").nth(2).text_content() == f"{delta:+.2f} pp"
    assert "worse" in row.locator("td").nth(2).get_attribute("class")
    page.select_option("#cmp-b", label="dynamic_range")
    size = page.locator("#cmp-metrics tbody tr", has_text="size").first
    c = json.loads((results / "quantization/dynamic_range.json").read_text())
    expected = round(c["metrics"]["size_bytes"] - a["metrics"]["size_bytes"])
    assert size.locator("td").nth(2).text_content() == f"{expected:+,} B"
    assert not watched.errors and not watched.outside


def test_served_from_a_sub_path_with_netron_link(site, browser):
    """GitHub Pages serves the site under /<repo>/: relative links must still resolve."""
    _, root = site
    handler = functools.partial(QuietHandler, directory=str(root.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/{root.name}/"
    page = browser.new_page()
    errors, outside = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))

    def route(r):
        if r.request.url.startswith(base):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    try:
        page.goto(base + "experiments/quantization.html")
        page.wait_for_function(ALL_CHARTS_DRAWN, timeout=15_000)
        page.goto(base + "models/tiny.html")
        href = page.get_attribute("a.netron", "href")
        assert href == "https://netron.app/?url=" + quote(base + "models/tiny.tflite", safe="")
        reply = page.request.get(base + "models/tiny.tflite")  # what Netron would fetch
        assert reply.ok and reply.body() == (root.parent / "tiny.tflite").read_bytes()
    finally:
        server.shutdown()
        server.server_close()
    assert not errors and not outside, (errors, outside)
