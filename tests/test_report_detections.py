"""Detection pictures (report/detections.py): every model's example images side by side with
their boxes, the COCO table and per-class AP chart in the order the models are made, and
examples files read as untrusted input."""

from __future__ import annotations

import html
import json
import re

import pytest
import sample_results as sample

from tpulens.report.site import build_site

ORDER = ["keras", "float", "int8"]


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    results = sample.write_detection_results(tmp_path_factory.mktemp("det") / "results")
    build = build_site(results, results.parent / "site")
    return results, build


def test_each_model_s_pictures_side_by_side_with_their_boxes(built):
    results, build = built
    assert build.problems == []
    page = (build.out / "experiments/detection.html").read_text()
    grid = page[page.index('<table class="detections">') :]
    grid = grid[: grid.index("</table>")]
    assert re.findall(r"<th>(\w+)</th>", grid) == ORDER
    rows = re.findall(r"<tr>(.*?)</tr>", grid[grid.index("<tbody>") :], re.S)
    assert len(rows) == 3
    for row_number, row in enumerate(rows):
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        for column, (variant, cell) in enumerate(zip(ORDER, cells, strict=True)):
            examples = json.loads(
                (results / f"examples/detection-{variant}/examples.json").read_text()
            )
            image = examples["images"][row_number]
            src = re.search(r'<img src="([^"]+)"', cell).group(1)
            assert src == f"detection-examples/{column}-{row_number}.jpg"
            published = (build.out / "experiments" / src).read_bytes()
            assert (
                published
                == (results / f"examples/detection-{variant}" / image["file"]).read_bytes()
            )
            assert cell.count('class="box truth"') == len(image["ground_truth"])
            assert cell.count('class="box"') == len(image["predictions"])
            for box in image["predictions"]:
                x0, y0, x1, _ = box["box"]
                left = round(100 * x0 / image["width"], 2)
                assert f"left: {left:g}%" in cell.replace(f"{left}%", f"{left:g}%")
                assert f"{box['label']} {box['score']:.2f}" in cell


def test_coco_table_and_class_chart_read_keras_to_int8(built):
    results, build = built
    page = (build.out / "experiments/detection.html").read_text()
    table = page[page.index('<table id="coco-detection"') :]
    table = table[: table.index("</table>")]
    assert re.findall(r"<th>([^<]+)</th>", table) == ["metric", *ORDER, "Δ int8 − keras"]
    metrics = {
        v: json.loads((results / f"detection/{v}.json").read_text())["metrics"] for v in ORDER
    }
    delta = metrics["int8"]["coco_AP"] - metrics["keras"]["coco_AP"]
    assert f"{delta:+.3f}" in text_of(table)
    chart = json.loads(
        re.search(r'data-chart="chart-detection-class-ap">(.*?)</script>', page).group(1)
    )
    assert [t["name"] for t in chart["data"]] == ORDER
    assert chart["data"][0]["x"] == ["bag", "trouser"]
    assert chart["data"][0]["y"] == [
        metrics["keras"]["coco_AP_bag"],
        metrics["keras"]["coco_AP_trouser"],
    ]


def test_a_keras_latency_says_tensorflow(built):
    _, build = built
    page = (build.out / "experiments/detection.html").read_text()
    keras = re.search(r'<tr><td data-v="keras">.*?</tr>', page, re.S).group(0)
    assert "with TensorFlow, 2 threads" in keras and "LiteRT" not in keras
    assert ">host CPU, LiteRT / TensorFlow, 2 threads</th>" in page


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda ex, d: ex["images"][0].update(file="../../../../etc/passwd"),
            "is not a plain name",
        ),
        (lambda ex, d: (d / "0.jpg").write_bytes(b"<svg onload=alert(1)>"), "not a JPEG or PNG"),
        (lambda ex, d: (d / "0.jpg").write_bytes(b"\xff\xd8\xff" + b"0" * 600_000), "limit"),
        (lambda ex, d: ex["images"][0].update(width=10**9), "is not 1 to 4096 pixels"),
        (
            lambda ex, d: ex["images"][0]["predictions"][0].update(box=[1, 2, "x", 4]),
            "not a number",
        ),
        (lambda ex, d: ex.update(images="all"), "no list of images"),
    ],
)
def test_bad_examples_are_one_problem_and_the_page_still_builds(tmp_path, change, problem):
    results = sample.write_detection_results(tmp_path / "results")
    folder = results / "examples/detection-float"
    examples = json.loads((folder / "examples.json").read_text())
    change(examples, folder)
    (folder / "examples.json").write_text(json.dumps(examples))
    build = build_site(results, tmp_path / "site")
    assert [p for p in build.problems if "detection/float.json: examples not shown" in p]
    assert any(problem in p for p in build.problems), build.problems
    page = (build.out / "experiments/detection.html").read_text()
    grid = page[page.index('<table class="detections">') :]
    assert re.findall(r"<th>(\w+)</th>", grid[: grid.index("</thead>")]) == ["keras", "int8"]
    assert not [p for p in build.out.rglob("*") if p.name == "passwd"]


def test_boxes_outside_the_image_are_clipped_and_examples_outside_results_refused(tmp_path):
    results = sample.write_detection_results(tmp_path / "results")
    folder = results / "examples/detection-keras"
    examples = json.loads((folder / "examples.json").read_text())
    examples["images"][0]["predictions"] = [
        {"label": "bag", "score": 0.8, "box": [-50, -50, 64, 48]},  # half of it inside
        {"label": "bag", "score": 0.7, "box": [500, 500, 600, 600]},  # nothing inside
    ]
    (folder / "examples.json").write_text(json.dumps(examples))
    record = json.loads((results / "detection/int8.json").read_text())
    record["artifacts"]["examples"] = "../../outside/examples.json"
    (results / "detection/int8.json").write_text(json.dumps(record))
    build = build_site(results, tmp_path / "site")
    assert any("detection/int8.json: examples '../../outside" in p for p in build.problems)
    page = (build.out / "experiments/detection.html").read_text()
    first = re.search(r"<tbody>\s*<tr><td>(.*?)</td>", page[page.index("detections") :], re.S)
    boxes = re.findall(r'<span class="box" style="([^"]+)"', first.group(1))
    assert len(boxes) == 1 and boxes[0].startswith(
        "left: 0.0%; top: 0.0%; width: 50.0%; height: 50.0%"
    )
