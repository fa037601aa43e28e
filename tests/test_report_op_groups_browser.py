"""A model with a few ops on the Edge TPU and a long CPU tail after the partition cut, in Debian's
Chromium at 1280 px: its diagnostics page folds the tail into a few screens, root causes stay in
view, and a graph click, a search or a link still lands on an op inside a folded run."""

from __future__ import annotations

import json

import pytest
import sample_results as sample

from tpulens.analyzer.analyze import analyze_file
from tpulens.report.graph_layout import dot_binary
from tpulens.report.op_groups import root_cause_counts
from tpulens.report.site import build_site

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(dot_binary() is None, reason="Graphviz `dot` not installed"),
]
WIDTH, HEIGHT = 1280, 800
MODEL = (  # 19 ops on the Edge TPU, then 473 on the CPU
    "pairs/EdgeTPU-MOT@03eb91d/server_script/yolov10n_saved_model/"
    "yolov10n_full_integer_quant.tflite"
)
TABLE = "ops-yolov10n"


@pytest.fixture(scope="module")
def site(tmp_path_factory, corpus):
    """(diagnostics page URL, the analysis) of a site built from the yolov10n analysis alone."""
    root = tmp_path_factory.mktemp("long-tail")
    analysis = analyze_file(corpus / MODEL)
    (root / "yolov10n.json").write_text(json.dumps(analysis))
    out = build_site(None, root / "site", [root / "yolov10n.json"]).out
    return (out / "models/yolov10n.html").as_uri(), analysis


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    assert errors == []
    page.close()


def open_page(page, url: str):
    page.goto(url)
    page.wait_for_load_state("load")
    return page


def visible_rows(page) -> list[str]:
    return page.eval_on_selector_all(
        f"#{TABLE} tbody tr[id]:not([hidden])", "rows => rows.map(r => r.id)"
    )


def tail_op(analysis: dict) -> dict:
    """An op deep in the CPU tail, folded away when the page opens."""
    after = [op for op in analysis["ops"] if op["status"] == sample.AFTER]
    return after[len(after) // 2]


def test_the_page_is_a_few_screens_and_root_causes_are_in_view(page, site):
    url, analysis = site
    ops = analysis["ops"]
    assert sum(op["placement"] == "TPU" for op in ops) == 19 and len(ops) == 492
    open_page(page, url)
    assert page.evaluate("document.documentElement.scrollHeight") < 10 * HEIGHT  # was 142
    shown = visible_rows(page)
    causes = [f"op-0-{index}" for (_, index), n in root_cause_counts(ops).items() if n]
    assert causes and set(causes) <= set(shown)
    assert len(shown) < len(ops) // 10
    heads = page.locator(f"#{TABLE} tr.group-head")
    assert heads.count() > 5
    biggest = max(int(t.split()[0]) for t in heads.locator(".group-toggle").all_text_contents())
    assert biggest > 100  # the tail after the cut is one row


def test_a_graph_click_opens_the_run_and_selects_the_op(page, site):
    url, analysis = site
    target = tail_op(analysis)
    row = f"op-0-{target['index']}"
    open_page(page, url)
    assert row not in visible_rows(page)
    page.click(".op-graph-tools button:text('fit')")
    page.click(f'svg.op-graph a[data-op="{target["index"]}"]')
    assert page.evaluate("location.hash") == f"#{row}"
    assert page.locator(f"#{row}").is_visible()
    assert page.eval_on_selector_all("tr.selected", "rows => rows.map(r => r.id)") == [row]
    group = page.locator(f"#{row}").locator("xpath=..")
    assert group.locator(".group-toggle").get_attribute("aria-expanded") == "true"


def test_a_link_and_a_search_find_an_op_inside_a_run(page, site):
    url, analysis = site
    target = tail_op(analysis)
    row = f"op-0-{target['index']}"
    open_page(page, f"{url}#{row}")
    assert page.locator(f"#{row}").is_visible()
    name = target["output_tensors"][0]["name"]
    open_page(page, url)
    page.fill(f'input[data-filter="{TABLE}"]', name)
    assert row in visible_rows(page)
    assert all(
        name.lower() in page.eval_on_selector(f"#{r}", "r => r.textContent + r.innerHTML").lower()
        for r in visible_rows(page)
    )
