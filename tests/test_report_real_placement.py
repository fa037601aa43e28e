"""The real compiler's output first (report/real_placement.py, report/diagnostics.py): a model whose
results hold a comparison with its compiled model, or a batch twin, shows the compiler's placement
with the prediction beside it and the ops where they differ; a compiled model's page links its
CPU model's and folds its CPU ops by type."""

from __future__ import annotations

import html
import json
import re

import sample_results as sample

from tpulens.analyzer.analyze import analyze_file
from tpulens.analyzer.compare import compare_files
from tpulens.cli import main
from tpulens.report.diagnostics import model_pages
from tpulens.report.files import ModelFiles
from tpulens.report.load import load_results
from tpulens.report.site import jinja_env

LENET = "pairs/LeNet_TFLite@58c09cc"
TRANSFORMER = "pairs/Coral-TPU@2facb8a/transformer"  # compiled with -a: 3 Edge TPU subgraphs
YOLOV8N = "pairs/EdgeTPU-MOT@03eb91d/server_script/yolov8n_saved_model/yolov8n_full_integer_quant"


def pages_of(results_dir=None, analyses=()):
    """Each model page by slug, with its HTML."""
    results = load_results(results_dir, list(analyses))
    pages = model_pages(results, ModelFiles(publish=False))
    template = jinja_env().get_template("model.html")
    return {p.slug: (p, template.render(root="../", nav=[], page=f"models/{p.slug}.html",
                                        origin="", title=p.title, m=p, cost=None))
            for p in pages}


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def results_with_comparison(tmp_path, corpus, name, compiler_version, edit=None):
    """A results folder whose record names the analysis of a corpus CPU model and its
    comparison with the compiled twin, as `tpulens run` writes them."""
    cpu, compiled = corpus / f"{name}.tflite", corpus / f"{name}_edgetpu.tflite"
    analysis = analyze_file(cpu, compiler_version=compiler_version)
    if edit:
        edit(analysis)
    comparison = compare_files(cpu, compiled, compiler_version=compiler_version).to_json()
    results = tmp_path / "results"
    sample.write(results, "analysis/m.json", analysis)
    sample.write(results, "analysis/m.comparison.json", comparison)
    record = sample.record("zoo", "m", {"size_bytes": 1}, analysis="analysis/m.json")
    record["artifacts"]["comparison"] = "analysis/m.comparison.json"
    sample.write(results, "zoo/m.json", record)
    return results, analysis, comparison


def test_an_agreeing_comparison_puts_the_compiler_first_without_doubt_marks(tmp_path, corpus):
    def doubt(analysis):  # as an analysis written with per-op doubts: the compiler settles them
        for op in analysis["ops"]:
            op |= {"confidence": "low", "confidence_reason": "never seen compiled"}
        analysis["summary"]["ops_low_confidence"] = len(analysis["ops"])

    results, analysis, comparison = results_with_comparison(
        tmp_path, corpus, f"{LENET}/converted_model-int8", "16.0", doubt)
    assert comparison["agree"]
    page, rendered = pages_of(results)["m"]
    text = text_of(rendered)
    assert page.source == "compiler" and page.real.per_op
    assert page.title == "zoo/m (converted_model-int8.tflite)"  # not "zoo/m compiled (…)"
    assert "Ops on the Edge TPU 9 of 11 compiler · 9 predicted" in text
    assert "They agree: the compiler placed every op where the prediction did (9 of 11 on the " \
        "Edge TPU)." in text
    assert "low confidence" not in text.lower() and ' low"' not in rendered
    without = pages_of(None, [results / "analysis/m.json"])["m"][1]
    assert "(low confidence)" in text_of(without)  # the same analysis alone keeps its doubts


def test_a_disagreeing_comparison_lists_its_ops_and_shows_where_the_compiler_put_them(
        tmp_path, corpus):
    # Compiler 2.1 refuses the transformer (RSQRT's version); the real compile mapped 157 ops.
    results, analysis, comparison = results_with_comparison(
        tmp_path, corpus, f"{TRANSFORMER}/efficient_l3", "2.1")
    differing = comparison["op_differences"]
    assert len(differing) == 157
    loaded = load_results(results)
    assert len(loaded.analyses[0].comparison.op_differences) == 157
    assert not [p for p in loaded.problems if "comparison.json" in p]
    page, rendered = pages_of(results)["m"]
    assert page.real.per_op and page.summary["ops_tpu"] == 157
    assert page.predicted["ops_tpu"] == analysis["summary"]["ops_tpu"] == 0
    text = text_of(rendered)
    assert "The compiler placed 157 ops elsewhere than the prediction:" in text
    first = differing[0]
    assert f'<a href="#op-0-{first["index"]}">#{first["index"]} {first["opcode"]}: predicted ' \
        f'CPU, compiler TPU</a>' in rendered
    row = re.search(rf'<tr id="op-0-{first["index"]}"(.*?)</tr>', rendered, re.S).group(1)
    # The op table shows the compiler's placement, the prediction under it.
    assert re.search(r'class="place-tpu">TPU.*predicted CPU', row, re.S)


def test_a_log_whose_table_differs_is_not_called_an_agreement(tmp_path, corpus):
    """A log gives counts per (operator, status), not each op's placement: where its table
    differs from the prediction, the page lists the rows instead of saying they agree."""
    name = "pairs/EdgeTPU_Analysis/Ops/model_mat/model_mat_Add"
    real_log = (corpus / f"{name}_edgetpu.log").read_text()
    assert "ADD                            500        Mapped to Edge TPU" in real_log
    log = tmp_path / "model_mat_Add_edgetpu.log"  # one ADD refused, as a compiler could say
    log.write_text(real_log.replace(
        "ADD                            500        Mapped to Edge TPU",
        "ADD                            499        Mapped to Edge TPU\n"
        "ADD                            1          Operation is otherwise supported, but not "
        "mapped due to some unspecified limitation"))
    cpu = corpus / f"{name}.tflite"
    comparison = compare_files(cpu, log_path=log).to_json()
    assert comparison["row_differences"] and not comparison["op_differences"]
    results = tmp_path / "results"
    sample.write(results, "analysis/m.json", analyze_file(cpu, compiler_version="1.0"))
    sample.write(results, "analysis/m.comparison.json", comparison)
    record = sample.record("zoo", "m", {"size_bytes": 1}, analysis="analysis/m.json")
    record["artifacts"]["comparison"] = "analysis/m.comparison.json"
    sample.write(results, "zoo/m.json", record)
    page, rendered = pages_of(results)["m"]
    assert not page.real.agree and not page.real.per_op
    text = text_of(rendered)
    assert "They agree" not in text
    assert "The compiler's output differs from the prediction:" in text
    assert "ADD, 'Mapped to Edge TPU': 499 in the compiler's table, 500 predicted" in text


def test_an_unreadable_comparison_is_a_problem_line_and_the_page_shows_the_prediction(
        tmp_path, corpus):
    results, analysis, _ = results_with_comparison(
        tmp_path, corpus, f"{LENET}/converted_model-int8", "16.0")
    (results / "analysis/m.comparison.json").write_text('{"actual": {"ops_tpu": 9,')
    loaded = load_results(results)
    assert loaded.analyses[0].comparison is None
    problems = [p for p in loaded.problems if "comparison.json" in p]
    assert len(problems) == 1 and problems[0].startswith(
        "zoo/m.json: comparison 'analysis/m.comparison.json' not read: ")
    page, rendered = pages_of(results)["m"]
    assert page.real is None and page.source == "predicted"

    record = json.loads((results / "zoo/m.json").read_text())
    record["artifacts"]["comparison"] = "../outside.comparison.json"  # not in results/
    (results / "zoo/m.json").write_text(json.dumps(record))
    (tmp_path / "outside.comparison.json").write_text("{}")
    (results / "analysis/m.comparison.json").unlink()
    problems = [p for p in load_results(results).problems if "comparison.json" in p]
    assert len(problems) == 1 and problems[0].startswith(
        "zoo/m.json: comparison '../outside.comparison.json' not read: ")


def test_a_comparison_field_of_the_wrong_type_is_noted_and_the_rest_used(tmp_path, corpus):
    def wrong(comparison):
        comparison["warnings"] = "none"

    results, analysis, comparison = results_with_comparison(
        tmp_path, corpus, f"{LENET}/converted_model-int8", "16.0")
    wrong(comparison)
    sample.write(results, "analysis/m.comparison.json", comparison)
    problems = [p for p in load_results(results).problems if "comparison.json" in p]
    assert problems == ["analysis/m.comparison.json: ignored warnings is a string, expected a "
                        "list"]
    page, _ = pages_of(results)["m"]
    assert page.real.per_op and page.real.agree and page.summary["ops_tpu"] == 9


def test_a_batch_links_the_compiled_page_to_its_cpu_model_and_notes_a(tmp_path, corpus, capsys):
    batch = tmp_path / "batch.jsonl"
    yolo = [str(corpus / f"{YOLOV8N}{end}") for end in (".tflite", "_edgetpu.tflite")]
    assert main(["analyze", "--json", str(corpus / TRANSFORMER), *yolo,
                 str(corpus / LENET / "converted_model-int8.tflite"),
                 str(corpus / LENET / "converted_model-int8_edgetpu.tflite")]) == 0
    batch.write_text(capsys.readouterr().out)
    pages = pages_of(None, [batch])
    twin = next(a.analysis.compiled_from for a in load_results(None, [batch]).analyses
                if a.slug == "efficient_l3_edgetpu")
    assert (twin.ops_tpu, twin.tpu_subgraphs, twin.multiple_subgraphs) == (157, 3, True)
    assert twin.prediction.flags == ("-a",) and twin.prediction.ops_tpu == 157
    assert twin.differences == () and twin.path.endswith("efficient_l3.tflite")

    published = next(a.raw for a in load_results(None, [batch]).analyses
                     if a.slug == "efficient_l3_edgetpu")
    assert json.loads(published)["compiled_from"]["path"] == "efficient_l3.tflite"
    assert str(corpus).encode() not in published  # where the models were is not published

    compiled, rendered = pages["efficient_l3_edgetpu"]
    assert compiled.cpu_model.slug == "efficient_l3"
    assert '<a class="cpu-model" href="efficient_l3.html">efficient_l3.tflite</a>: 157 of its ' \
        '163 ops on the Edge TPU' in rendered
    cpu, rendered = pages["efficient_l3"]
    text = text_of(rendered)
    assert "Ops on the Edge TPU 157 of 163 compiler · 103 predicted" in text
    assert "They agree: the compiler placed every op where the prediction with -a did" in text
    assert "3 Edge TPU subgraphs, which only -a makes: it was compiled with -a." in text
    assert not cpu.real.per_op  # the page's own prediction is without -a: its rows stay so
    assert 'href="efficient_l3_edgetpu.html"' in rendered

    lenet, rendered = pages["converted_model-int8"]
    assert lenet.real.per_op and lenet.real.agree and lenet.real.compiled_slug

    # The compiled YOLOv8n: 1 Edge TPU subgraph and 23 CPU ops, folded by type, the sentence a
    # compiled model gives every CPU op said once.
    compiled, rendered = pages["yolov8n_full_integer_quant_edgetpu"]
    data = next(json.loads(line) for line in batch.read_text().splitlines()
                if "yolov8n_full_integer_quant_edgetpu" in line.split('"ops"')[0])
    cpu_ops = [op for op in data["ops"] if op["placement"] == "CPU"]
    assert len(cpu_ops) == 23 and len(data["ops"]) == 24
    kinds = {op["opcode"] for op in cpu_ops}
    assert len(compiled.op_table.groups) == len(kinds) + 1 < len(data["ops"])
    assert rendered.count(cpu_ops[0]["explanation"].split(".")[0]) == 1
    assert compiled.cpu_model.slug == "yolov8n_full_integer_quant"
