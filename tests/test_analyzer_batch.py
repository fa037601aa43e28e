"""`tpulens analyze` on many models: files, directories, globs, twins, JSON Lines and CI exits."""

import json
import shutil

import pytest

from tpulens.cli import main

LENET = "pairs/LeNet_TFLite@58c09cc"


@pytest.fixture()
def lenet(corpus, tmp_path):
    """The LeNet folder: three CPU models (int8, int8 I/O, float32), each with its compiled
    twin, copied beside a text file and a nested model."""
    folder = tmp_path / "lenet"
    shutil.copytree(corpus / LENET, folder)
    (folder / "notes.txt").write_text("not a model")
    nested = folder / "deeper" / "still"
    nested.mkdir(parents=True)
    shutil.copy(corpus / "pairs/Franco@39e2fdc/model.tflite", nested / "franco.tflite")
    return folder


def _rows(out: str) -> dict[str, list[str]]:
    """Table rows by first cell (the model; "with" for the prediction a twin is compared with)."""
    rows = {}
    for line in out.splitlines()[1:]:
        if not line.strip() or line.startswith(tuple("0123456789")):
            break
        cells = line.split()
        rows[cells[0]] = cells[-6:] if cells[0] == "with" else cells[1:]
    return rows


def test_directory_is_searched_recursively_with_twins_under_their_model(lenet, capsys):
    assert main(["analyze", str(lenet)]) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    assert len(rows) == 7  # 3 CPU models + 3 twins + the nested model; notes.txt is skipped
    names = list(rows)
    assert names.index("converted_model-int8_edgetpu.tflite") == names.index(
        str(lenet / "converted_model-int8.tflite")) + 1
    # A twin's counts are the compiler's for its CPU model's ops: 9 of 11 on the TPU.
    assert rows["converted_model-int8_edgetpu.tflite"] == ["compiler", "11", "9", "2", "partial",
                                                           "-"]
    # Compiler 16 accepts a float model and maps nothing; older compilers refuse it whole.
    assert rows[str(lenet / "converted_model.tflite")][-2] == "none"
    assert rows["converted_model_edgetpu.tflite"][-2] == "none"
    assert str(lenet / "deeper/still/franco.tflite") in rows
    # Four models, three of them with their compiled twin: files are not models.
    assert "4 model(s) (3 with a compiled twin): 2 full, 1 partial, 1 none (predicted)" in out
    assert "converted_model-int8_edgetpu.tflite: the prediction agrees on the placement of all " \
        "11 ops." in out


def test_several_files_like_a_shell_glob_and_details(lenet, capsys):
    files = sorted(str(p) for p in lenet.glob("converted_model-int8*.tflite"))
    assert main(["analyze", *files, "--details"]) == 0
    out = capsys.readouterr().out
    assert out.count("== ") == 4 and "PREDICTION for" in out and "COMPILED" in out
    assert "compiled from" in out and out.rstrip().endswith(
        "2 model(s) (2 with a compiled twin): 1 full, 1 partial (predicted)")


@pytest.mark.parametrize("fail_on, code", [("fails", 1), ("partial", 1)])
def test_fail_on_gates_ci(lenet, fail_on, code, capsys):
    # Compiler 15 refuses the float model whole ("Model not quantized"): one verdict "fails".
    assert main(["analyze", str(lenet), "--compiler-version", "15.0", "--fail-on", fail_on]) == code
    out = capsys.readouterr().out
    failing = {"fails": 1, "partial": 2}[fail_on]  # a model and its twin count once
    assert f"--fail-on {fail_on}: {failing} model(s) at or below '{fail_on}'" in out
    # Compiler 15 refuses the float model, but its twin was compiled (by a newer compiler).
    assert "differs: the analyzer predicts the compiler fails (Model not quantized" in out


def test_fail_on_passes_when_every_model_is_better(corpus, capsys):
    full = corpus / LENET / "converted_model-int8_io.tflite"
    assert main(["analyze", str(full), "--fail-on", "partial"]) == 0
    partial = corpus / LENET / "converted_model-int8.tflite"
    assert main(["analyze", str(partial), "--fail-on", "fails"]) == 0
    assert main(["analyze", str(partial), "--fail-on", "partial"]) == 1


def test_json_lines_and_json_array(lenet, capsys):
    assert main(["analyze", str(lenet), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    docs = [json.loads(line) for line in lines]
    assert len(docs) == 7 and all({"summary", "ops", "model"} <= set(d) for d in docs)
    assert {d["model"]["kind"] for d in docs} == {"cpu", "compiled"}
    twin = next(d for d in docs if d["model"]["name"] == "converted_model-int8_edgetpu.tflite")
    assert twin["compiled_from"]["ops_tpu"] == 9 and twin["source"] == "compiler"
    assert main(["analyze", str(lenet), "--json-array"]) == 0
    assert json.loads(capsys.readouterr().out) == docs


def test_single_model_json_is_one_document(corpus, capsys):
    assert main(["analyze", str(corpus / LENET / "converted_model-int8.tflite"), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and json.loads(out)["summary"]["verdict"] == "partial"


def test_a_bad_file_in_a_batch_is_one_error_and_exit_2(lenet, capsys):
    (lenet / "broken.tflite").write_bytes(b"\0" * 64)
    assert main(["analyze", str(lenet), "--fail-on", "fails"]) == 2
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and str(lenet / "broken.tflite") in errors[0]
    assert _rows(captured.out)[str(lenet / "broken.tflite")][-2] == "error"
    assert "5 model(s)" in captured.out and "1 error" in captured.out


@pytest.mark.parametrize("bad", ["missing", "empty"])
def test_a_missing_path_or_empty_directory_in_a_batch_is_one_error_row(lenet, tmp_path, capsys,
                                                                        bad):
    path = tmp_path / bad
    if bad == "empty":
        path.mkdir()
    assert main(["analyze", str(lenet), str(path), "--fail-on", "fails"]) == 2
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"tpulens analyze: error: {path}: ")
    rows = _rows(captured.out)
    assert rows[str(path)] == ["-"] * 4 + ["error", "-"]
    assert "5 model(s) " in captured.out and "1 error" in captured.out  # the 4 others analysed


def test_a_twin_that_was_not_compiled_from_its_namesake_says_so(corpus, tmp_path, capsys):
    shutil.copy(corpus / LENET / "converted_model-int8.tflite", tmp_path / "m.tflite")
    shutil.copy(corpus / LENET / "converted_model-int8_io_edgetpu.tflite",
                tmp_path / "m_edgetpu.tflite")
    assert main(["analyze", str(tmp_path), "--json"]) == 0
    twin = [json.loads(line) for line in capsys.readouterr().out.splitlines()][1]
    assert "compiled_from" not in twin
    assert "not compiled from it" in twin["warnings"][0]


def test_empty_directory_and_missing_path_exit_2(tmp_path, capsys):
    assert main(["analyze", str(tmp_path)]) == 2
    assert "no .tflite file in this directory" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "nope")]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_table_shows_the_low_confidence_count_when_the_analysis_has_it(corpus):
    from pathlib import Path

    from tpulens.analyzer.analysis import Analysis
    from tpulens.analyzer.analysis_report import render_table
    from tpulens.analyzer.batch import Outcome

    summary = {"ops_total": 10, "ops_tpu": 8, "ops_cpu": 2, "verdict": "partial"}
    with_count = Outcome(Path("a.tflite"), Analysis.from_json(
        {"model": {"kind": "cpu"}, "summary": {**summary, "ops_low_confidence": 3}, "ops": []}))
    without = Outcome(Path("b.tflite"), Analysis.from_json(
        {"model": {"kind": "cpu"}, "summary": summary, "ops": []}))
    rows = _rows(render_table([with_count, without]))
    assert rows["a.tflite"][-1] == "3" and rows["b.tflite"][-1] == "-"


TRANSFORMER = "pairs/Coral-TPU@2facb8a/transformer"  # compiled into 3 Edge TPU subgraphs


def test_a_twin_compiled_with_a_is_compared_with_the_prediction_with_a(corpus, capsys):
    folder = corpus / TRANSFORMER
    assert main(["analyze", str(folder)]) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    cpu = rows[str(folder / "efficient_l3.tflite")]
    twin = rows["efficient_l3_edgetpu.tflite"]
    assert twin[:4] == ["compiler", "163", "157", "6"]
    assert cpu[:4] != twin[:4]  # without -a the prediction keeps more on the CPU ...
    assert rows["with"][:4] == ["predicted", "163", "157", "6"]  # ... with -a it is the compile
    assert "efficient_l3_edgetpu.tflite: holds 3 Edge TPU subgraphs, which only -a makes: the " \
        "prediction with -a agrees on the placement of all 163 ops." in " ".join(
            line.strip() for line in out.splitlines())
    assert "1 model(s) (1 with a compiled twin): 1 partial (predicted)" in out

    assert main(["analyze", str(folder), "--json"]) == 0
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    truth = docs[1]["compiled_from"]
    assert truth["multiple_subgraphs"] and truth["tpu_subgraphs"] == 3
    assert truth["prediction"]["flags"] == ["-a"] and truth["differences"] == []
    assert docs[0]["options"]["enable_multiple_subgraphs"] is False  # the batch's own options

    # a batch predicted with -a already is the prediction the twin is compared with: no row
    # repeats it
    assert main(["analyze", "-a", str(folder)]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows[str(folder / "efficient_l3.tflite")][:4] == ["predicted", "163", "157", "6"]
    assert "with" not in rows


def test_a_twin_lists_the_ops_where_the_prediction_differs(corpus, capsys):
    # Compiler 2.1 has no -a (and refuses RSQRT's version): the 3-subgraph compile disagrees.
    folder = corpus / TRANSFORMER
    assert main(["analyze", str(folder), "--compiler-version", "2.1", "--json"]) == 0
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    truth = docs[1]["compiled_from"]
    assert truth["prediction"]["flags"] == [] and truth["multiple_subgraphs"]
    assert len(truth["differences"]) == 157
    assert {d["actual_placement"] for d in truth["differences"]} == {"TPU"}
    assert main(["analyze", str(folder), "--compiler-version", "2.1"]) == 0
    out = " ".join(line.strip() for line in capsys.readouterr().out.splitlines())
    assert "which only -a makes, but compiler 2.1 has no -a: 157 of 163 ops differ from the " \
        "prediction (#1 CONV_2D predicted CPU, compiled TPU;" in out
    assert f"details: tpulens compare {folder / 'efficient_l3.tflite'} --compiled " \
        f"{folder / 'efficient_l3_edgetpu.tflite'}" in out


def test_a_file_named_like_a_twin_but_not_one_is_its_own_model(corpus, tmp_path, capsys):
    shutil.copy(corpus / LENET / "converted_model-int8.tflite", tmp_path / "m.tflite")
    shutil.copy(corpus / LENET / "converted_model-int8_io_edgetpu.tflite",
                tmp_path / "m_edgetpu.tflite")
    assert main(["analyze", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert _rows(out)["m_edgetpu.tflite"][0] == "compiled"  # its own ops, not m's
    assert "2 model(s): " in out and "twin" not in out.split("\n\n")[-1]
