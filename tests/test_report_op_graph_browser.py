"""templates/assets/op-graph.js in Debian's Chromium: a click on a node selects its table row,
a drag pans without following the link, ctrl + wheel zooms, "fit" shows the whole graph, and a
link to #op-S-I opens with that op in view."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest
import sample_graphs as graphs

from tpulens.report.graph_layout import dot_binary
from tpulens.report.load import normalize_analysis
from tpulens.report.op_graph import op_graph
from tpulens.report.screenshots import CHROMIUM, offline_page

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(dot_binary() is None, reason="Graphviz `dot` not installed"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed"),
]
VIEW = "() => document.querySelector('svg.op-graph').getAttribute('viewBox').split(' ').map(Number)"


@pytest.fixture(scope="module")
def page_url(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("op-graph")
    data = normalize_analysis(graphs.branching_analysis("b.tflite", 300))
    rows = "".join(
        f'<tr id="op-{op["subgraph"]}-{op["index"]}"><td>{op["index"]}</td></tr>'
        for op in data["ops"]
    )
    script = resources.files("tpulens.templates") / "assets" / "op-graph.js"
    shutil.copyfile(str(script), root / "op-graph.js")
    (root / "page.html").write_text(
        '<!doctype html><meta charset="utf-8"><script src="op-graph.js"></script>'
        f"<h1>graph</h1>{op_graph(data).svg}<table>{rows}</table>"
    )
    return (root / "page.html").as_uri()


@pytest.fixture
def page(browser, page_url):
    page = offline_page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_url)
    page.wait_for_load_state("load")
    yield page
    assert errors == []
    page.close()


def test_click_on_a_node_selects_its_row(page):
    """The selection follows the hash in a hashchange listener, which runs after the click
    returns: each check waits for it (up to Playwright's timeout)."""
    page.click('svg.op-graph a[data-op="3"]')
    assert page.evaluate("location.hash") == "#op-0-3"
    page.wait_for_function("document.getElementById('op-0-3').classList.contains('selected')")
    assert page.evaluate(
        "document.querySelector('a[data-op=\"3\"]').classList.contains('selected')"
    )
    page.click('svg.op-graph a[data-op="5"]')
    page.wait_for_function("document.getElementById('op-0-5').classList.contains('selected')")
    assert page.evaluate("document.querySelectorAll('tr.selected').length") == 1


def test_drag_pans_without_following_a_link(page):
    before = page.evaluate(VIEW)
    node = page.locator('svg.op-graph a[data-op="2"]').bounding_box()
    x, y = node["x"] + node["width"] / 2, node["y"] + node["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 15, y - 120, steps=8)
    page.mouse.up()
    after = page.evaluate(VIEW)
    scale = page.locator("svg.op-graph").bounding_box()["width"] / before[2]  # px per unit
    assert after[0] == pytest.approx(before[0] - 15 / scale, abs=1)
    assert after[1] == pytest.approx(before[1] + 120 / scale, abs=1)
    assert page.evaluate("location.hash") == ""


def test_ctrl_wheel_zooms_and_fit_shows_everything(page):
    before = page.evaluate(VIEW)
    box = page.locator("svg.op-graph").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 100)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -400)
    page.keyboard.up("Control")
    zoomed = page.evaluate(VIEW)
    assert zoomed[2] < before[2] * 0.8
    page.click(".op-graph-tools button:text('fit')")
    fitted = page.evaluate(VIEW)
    width, height = page.evaluate(
        "[document.querySelector('svg.op-graph').dataset.width,"
        " document.querySelector('svg.op-graph').dataset.height].map(Number)"
    )
    assert fitted[2] >= width - 1 and fitted[3] >= height - 1


def test_a_link_to_an_op_opens_with_its_node_in_view(browser, page_url):
    page = offline_page(browser)
    page.goto(page_url + "#op-0-260")
    page.wait_for_load_state("load")
    page.evaluate("window.scrollTo(0, 0)")
    node = page.locator('svg.op-graph a[data-op="260"]')
    assert "selected" in node.get_attribute("class")
    svg, rect = page.locator("svg.op-graph").bounding_box(), node.bounding_box()
    assert svg["y"] <= rect["y"] and rect["y"] + rect["height"] <= svg["y"] + svg["height"]
    assert page.evaluate("document.getElementById('op-0-260').classList.contains('selected')")
    page.close()
