"""The "Done when" of the site in Debian's Chromium at 1280 px, served from a sub-path as GitHub
Pages serves it: no page scrolls sideways (a wide table scrolls inside its frame, with a cue),
every diagnostics page has its op graph and a working link to its model file, a click on a node
selects the op's row, a tensor name finds its op and the view survives a reload from the URL,
Netron gets an absolute URL it may fetch, a float model's page fits three screens, and the
overview's trade-off chart sits above the cards."""

from __future__ import annotations

import functools
import json
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import pytest
import sample_results as sample

from tpulens.analyzer.analyze import analyze_file
from tpulens.metrics import METRICS
from tpulens.report.cli_serve import QuietHandler
from tpulens.report.graph_layout import dot_binary
from tpulens.report.screenshots import CHROMIUM
from tpulens.report.site import build_site
from tpulens.report.what_if import INT8_LABEL

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(dot_binary() is None, reason="Graphviz `dot` not installed"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed"),
]
WIDTH, HEIGHT = 1280, 800
CORPUS_MODELS = {
    "deeplab": "pairs/edgetpu/deeplabv3_mnv2_pascal_quant.tflite",
    "yolo_fp16": "pairs/MyYolov5@0667147/yolov5n-fp16.tflite",
}


def cached_model(root: Path, name: str, data: bytes) -> str:
    """Where `tpulens run` keeps a model, relative to results/."""
    path = root / ".cache/tpulens/steps" / name / "model.tflite"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"../.cache/tpulens/steps/{name}/model.tflite"


def write_site_inputs(root: Path, corpus: Path) -> Path:
    results = sample.write_study_results(root / "results")
    sample.write_detection_results(results, "coco")
    for number, variant in enumerate(("a_variant_with_a_long_name", "b", "c")):
        metrics = {key: 0.5 + number + i / 7 for i, key in enumerate(METRICS)}
        sample.write(results, f"wide/{variant}.json", sample.record("wide", variant, metrics))
    for path in sorted((results / "analysis").glob("*.json")):  # every model is published
        analysis = json.loads(path.read_text())
        analysis["model"]["path"] = cached_model(root, path.stem, f"model {path.stem}".encode())
        path.write_text(json.dumps(analysis))
    for name, rel in CORPUS_MODELS.items():
        analysis = analyze_file(corpus / rel)
        analysis["model"]["path"] = cached_model(root, name, (corpus / rel).read_bytes())
        ref = f"analysis/corpus-{name}.json"
        sample.write(results, ref, analysis)
        sample.write(results, f"corpus/{name}.json", sample.record("corpus", name, analysis=ref))
    return results


@pytest.fixture(scope="module")
def served(tmp_path_factory, corpus):
    """(base URL, site directory, results directory): the site under /<name>/ on 127.0.0.1."""
    root = tmp_path_factory.mktemp("site-browser")
    results = write_site_inputs(root, corpus)
    site = build_site(results, root / "public" / "tpulens").out
    handler = functools.partial(QuietHandler, directory=str(site.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tpulens/", site, results
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser, served):
    """A 1280 × 800 page that may only reach the served site and records every script error."""
    base = served[0]
    page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.route(
        "**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort()
    )
    yield page
    assert errors == []
    page.close()


def open_page(page, url: str):
    page.goto(url)
    page.wait_for_load_state("load")
    return page


def analysis_of(results: Path, slug: str) -> dict:
    return json.loads((results / "analysis" / f"{slug}.json").read_text())


def visible_rows(page, table: str) -> list[str]:
    return page.eval_on_selector_all(
        f"#{table} tbody tr[id]:not([hidden])", "rows => rows.map(r => r.id)"
    )


def test_no_page_scrolls_sideways_and_wide_tables_scroll_inside_with_a_cue(page, served):
    base, site, _ = served
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    wide = 0
    for rel in pages:
        open_page(page, base + rel)
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, rel
        frames = page.evaluate(
            """() => [...document.querySelectorAll('.scroll')].map(box => ({
                overflows: box.scrollWidth > box.clientWidth + 1,
                cue: box.classList.contains('more-right'),
                data: Boolean(box.querySelector('table.data')),
                sticky: getComputedStyle(box.querySelector('td, th')).position}))"""
        )
        for frame in frames:
            assert frame["cue"] == frame["overflows"], rel
            assert frame["sticky"] == "sticky" or not frame["data"], rel
            wide += frame["overflows"]
    assert wide  # the wide experiment's table does not fit, so the cue was tested
    open_page(page, base + "experiments/wide.html")
    page.eval_on_selector("#cmp-wide", "t => t.closest('.scroll').scrollLeft = 1e6")
    page.wait_for_function("!document.querySelector('#cmp-wide').closest('.scroll')"
                           ".classList.contains('more-right')")
    first = page.locator("#cmp-wide tbody tr:first-child td:first-child").bounding_box()
    assert 0 <= first["x"] < 40  # the variant column stays in view


def test_every_diagnostics_page_has_its_graph_and_its_model(page, served):
    base, site, results = served
    published = site.glob("models/*.analysis.json")
    slugs = sorted(p.name.removesuffix(".analysis.json") for p in published)
    assert len(slugs) == len(list((results / "analysis").glob("*.json")))
    for slug in slugs:
        ops = json.loads((site / f"models/{slug}.analysis.json").read_text())["ops"]
        open_page(page, base + f"models/{slug}.html")
        nodes = page.eval_on_selector_all(
            "svg.op-graph [data-op]", "els => els.map(e => e.getAttribute('href'))"
        )
        assert nodes == [f"#op-{op['subgraph']}-{op['index']}" for op in ops], slug
        href = page.eval_on_selector("a.model-file", "a => a.href")
        reply = page.request.get(href)
        assert reply.ok, slug
        model = results / analysis_of(results, slug)["model"]["path"]
        assert reply.body() == model.read_bytes(), slug


def test_clicking_a_node_selects_its_row(page, served):
    base, _, results = served
    open_page(page, base + "models/corpus-deeplab.html")
    ops = analysis_of(results, "corpus-deeplab")["ops"]
    target = next(op for op in ops if op["placement"] == "CPU")
    row = f"op-0-{target['index']}"
    page.click(".op-graph-tools button:text('fit')")  # the whole graph in view
    page.click(f'svg.op-graph a[data-op="{target["index"]}"]')
    assert page.evaluate("location.hash") == f"#{row}"
    assert page.eval_on_selector_all("tr.selected", "rows => rows.map(r => r.id)") == [row]
    assert page.locator(f"#{row}").is_visible()
    assert page.evaluate(f"document.getElementById('{row}').getBoundingClientRect().top") < HEIGHT

    open_page(page, base + "models/corpus-yolo_fp16.html")  # a folded page: the group opens
    assert visible_rows(page, "ops-corpus-yolo_fp16") == []
    page.click('svg.op-graph a[data-op="7"]')
    page.locator("#op-0-7").wait_for(state="visible", timeout=5000)  # the group opens on click
    assert page.locator("#op-0-7").is_visible()
    assert "op-0-7" in visible_rows(page, "ops-corpus-yolo_fp16")
    assert page.eval_on_selector_all("tr.selected", "rows => rows.map(r => r.id)") == ["op-0-7"]


@pytest.mark.parametrize("name", ["aspp0", "ResizeBilinear_1"])
def test_a_tensor_name_finds_its_op_and_the_url_keeps_the_view(page, served, name):
    base, _, results = served
    table = "ops-corpus-deeplab"
    open_page(page, base + "models/corpus-deeplab.html")
    page.fill(f'input[data-filter="{table}"]', name)
    ops = analysis_of(results, "corpus-deeplab")["ops"]
    expected = [
        f"op-0-{op['index']}"
        for op in ops
        if any(name in t["name"] for t in op["input_tensors"] + op["output_tensors"])
    ]
    assert expected and visible_rows(page, table) == expected
    assert parse_qs(urlparse(page.url).query) == {table: [name]}
    link = page.url + f"#{expected[-1]}"
    open_page(page, link)  # a link reproduces the view: the filter and the selected op
    assert page.input_value(f'input[data-filter="{table}"]') == name
    assert visible_rows(page, table) == expected
    assert page.eval_on_selector_all("tr.selected", "rows => rows.map(r => r.id)") == [expected[-1]]


def test_the_filter_matches_statuses_and_reason_codes_in_folded_tables(page, served):
    base, _, results = served
    table = "ops-corpus-yolo_fp16"
    open_page(page, base + f"models/corpus-yolo_fp16.html?{table}.placement=CPU")
    ops = analysis_of(results, "corpus-yolo_fp16")["ops"]
    assert page.input_value(f'select[data-filter-select="{table}"]') == "CPU"
    assert len(visible_rows(page, table)) == len(ops)  # every op is on the CPU
    code = ops[0]["reason_code"]
    page.select_option(f'select[data-filter-select="{table}"]', "")
    page.fill(f'input[data-filter="{table}"]', code)
    assert len(visible_rows(page, table)) == sum(op["reason_code"] == code for op in ops)
    page.fill(f'input[data-filter="{table}"]', "CONCATENATION")
    assert len(visible_rows(page, table)) == sum(op["opcode"] == "CONCATENATION" for op in ops) > 0
    heads = page.locator(f"#{table} tr.group-head:not([hidden])")
    assert heads.count() == len({op["status"] for op in ops if op["opcode"] == "CONCATENATION"})


def test_netron_gets_an_absolute_url_it_may_fetch(page, served):
    base = served[0]
    open_page(page, base + "models/corpus-deeplab.html")
    href = page.get_attribute("a.netron", "href")
    model = base + "models/corpus-deeplab.tflite"
    assert href == "https://netron.app/?url=" + quote(model, safe="")
    reply = page.request.get(model, headers={"Origin": "https://netron.app"})
    assert reply.ok and reply.headers["access-control-allow-origin"] == "*"


def test_a_float_models_page_is_shorter_than_three_screens(page, served):
    base, _, results = served
    int8 = analysis_of(results, "corpus-yolo_fp16")["summary"]["what_if"][0]  # the analyzer's
    assert int8["label"] == INT8_LABEL and int8["ops_cpu"] > 0
    open_page(page, base + "models/corpus-yolo_fp16.html")
    assert page.evaluate("document.documentElement.scrollHeight") < 3 * HEIGHT
    total = int8["ops_tpu"] + int8["ops_cpu"]
    assert (f"If fully int8-quantized: {int8['ops_tpu']} of {total} ops on the Edge TPU"
            in page.text_content("main"))
    toggle = page.locator("#ops-corpus-yolo_fp16 .group-toggle").first
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    group = page.locator("#ops-corpus-yolo_fp16 tbody.row-group").first
    count = int(toggle.text_content().split()[0])
    assert group.locator("tr[id]:not([hidden])").count() == count


def test_detection_pictures_show_each_model_with_its_boxes(page, served):
    open_page(page, served[0] + "experiments/coco.html")
    heads = page.eval_on_selector_all("table.detections th", "ths => ths.map(t => t.textContent)")
    assert heads == ["keras", "float", "int8"]
    # the pictures load lazily: wait for them (a picture that never loads times this out)
    page.wait_for_function("[...document.querySelectorAll('.det-image img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    pictures = page.evaluate(
        """() => [...document.querySelectorAll('.det-image')].map(frame => {
            const img = frame.querySelector('img').getBoundingClientRect();
            const boxes = [...frame.querySelectorAll('.box')].map(b => b.getBoundingClientRect());
            const within = (b) => b.left >= img.left - 0.5 && b.right <= img.right + 0.5
                && b.top >= img.top - 0.5 && b.bottom <= img.bottom + 0.5;
            return {loaded: frame.querySelector('img').naturalWidth > 0, boxes: boxes.length,
                    inside: boxes.every(within)};
        })"""
    )
    assert len(pictures) == 9 and all(p["loaded"] and p["inside"] for p in pictures)
    assert sum(p["boxes"] for p in pictures) > 9  # every picture has its truth and predictions


def test_the_overview_chart_sits_above_the_cards(page, served):
    open_page(page, served[0] + "index.html")
    page.wait_for_function("document.querySelector('#chart-overview-tradeoff .main-svg')")
    chart = page.locator("#chart-overview-tradeoff").bounding_box()
    card = page.locator(".verdict-card").first.bounding_box()
    assert chart["y"] + chart["height"] <= card["y"]
