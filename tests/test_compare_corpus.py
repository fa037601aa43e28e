"""`compare`: truth from compiled models and logs beside the analyzer's prediction."""

import copy
import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from tpulens.analyzer import analyze_file
from tpulens.analyzer.analysis import Analysis
from tpulens.analyzer.compare import compare_analysis, compare_files, render_text
from tpulens.analyzer.ground_truth import CORPUS, compiled_from_problem, match_placement
from tpulens.analyzer.logs import MAPPED, parse_log
from tpulens.analyzer.model import read_model
from tpulens.cli import main
from tpulens.errors import InputError

pytestmark = pytest.mark.skipif(not (CORPUS / "PAIRS.tsv").is_file(),
                                reason=f"ground-truth corpus not found at {CORPUS}")
DEEPLAB = "pairs/edgetpu/deeplabv3_mnv2_pascal_quant"
PADDING = "pairs/EdgeTPU_Analysis/InOut/model_padding/model_padding_2x2x3"


def _pairs() -> list[dict]:
    if not (CORPUS / "PAIRS.tsv").is_file():
        return []
    with open(CORPUS / "PAIRS.tsv", newline="") as f:
        return [r for r in csv.DictReader(f, delimiter="\t") if r["kind"] == "pair"]


def _optional(name: str) -> Path | None:
    return CORPUS / name if name else None


@pytest.mark.parametrize("pair", _pairs(), ids=lambda p: p["cpu_model"][-60:])
def test_actual_side_of_every_pair_matches_pairs_tsv(pair):
    if pair["caveat"].startswith("exclude"):  # the CPU file there is not the compiler's input
        with pytest.raises(InputError, match="not compiled from"):
            compare_files(CORPUS / pair["cpu_model"], CORPUS / pair["edgetpu_model"])
        return
    result = compare_files(CORPUS / pair["cpu_model"], CORPUS / pair["edgetpu_model"],
                           _optional(pair["log"]), pair["compiler_version"])
    assert result.actual["ops_cpu"] == int(pair["ops_left_on_cpu_total"] or 0)
    assert result.actual["tpu_subgraphs"] == int(pair["edgetpu_custom_ops"])
    assert result.actual["ops_total"] == int(pair["cpu_ops_total"])
    assert result.agree == (not result.op_differences and not result.row_differences
                            and not result.summary_differences)
    # The same prediction with one op's placement turned over: compare reports that op, as a
    # placement difference, beside the differences it reported before (most pairs have none).
    cpu = read_model(CORPUS / pair["cpu_model"])
    compiled = read_model(CORPUS / pair["edgetpu_model"])
    analysis = analyze_file(CORPUS / pair["cpu_model"], pair["compiler_version"], **result.options)
    truth = match_placement(cpu, compiled).placement
    base = compare_analysis(Analysis.from_json(analysis), cpu, compiled)
    assert _misplaced(base) == _misplaced(result) == {
        (o["subgraph"], o["index"]) for o in analysis["ops"]
        if truth.get((o["subgraph"], o["index"]), o["placement"]) != o["placement"]}
    victim = next(o for o in analysis["ops"] if (o["subgraph"], o["index"]) in truth)
    victim["placement"] = "CPU" if victim["placement"] == "TPU" else "TPU"
    turned = compare_analysis(Analysis.from_json(analysis), cpu, compiled)
    assert _misplaced(turned) == _misplaced(base) ^ {(victim["subgraph"], victim["index"])}
    for d in turned.op_differences:
        assert (d.predicted_placement != d.actual_placement
                or d.predicted_status != d.actual_status)


def _misplaced(result) -> set[tuple[int, int]]:
    return {(d.subgraph, d.index) for d in result.op_differences
            if d.predicted_placement != d.actual_placement}


def _analysis_from_truth(cpu_path: Path, compiled_path: Path) -> dict:
    """A real analysis dict whose placements are replaced by the compiled model's truth."""
    analysis = analyze_file(cpu_path, compiler_version="2.1")
    truth = match_placement(read_model(cpu_path), read_model(compiled_path)).placement
    for op in analysis["ops"]:
        op["placement"] = truth[(op["subgraph"], op["index"])]
        if op["placement"] == "TPU":
            op["status"] = MAPPED
    tpu = sum(op["placement"] == "TPU" for op in analysis["ops"])
    analysis["summary"].update(ops_tpu=tpu, ops_cpu=len(analysis["ops"]) - tpu,
                               tpu_subgraphs=1, verdict="partial")
    return analysis


def test_prediction_equal_to_truth_agrees_and_one_flip_is_reported():
    cpu_path = CORPUS / f"{DEEPLAB}.tflite"
    compiled_path = CORPUS / f"{DEEPLAB}_edgetpu.tflite"
    cpu, out = read_model(cpu_path), read_model(compiled_path)
    analysis = _analysis_from_truth(cpu_path, compiled_path)
    assert compare_analysis(Analysis.from_json(analysis), cpu, out).agree
    flipped = copy.deepcopy(analysis)
    victim = next(op for op in flipped["ops"] if op["opcode"] == "ARG_MAX")
    victim.update(placement="TPU", status=MAPPED)
    result = compare_analysis(Analysis.from_json(flipped), cpu, out)
    assert not result.agree
    assert [(d.index, d.opcode, d.predicted_placement, d.actual_placement)
            for d in result.op_differences] == [(victim["index"], "ARG_MAX", "TPU", "CPU")]
    assert "ARG_MAX" in render_text(result)


def test_actual_status_comes_from_the_log_when_unambiguous():
    cpu_path = CORPUS / f"{DEEPLAB}.tflite"
    compiled_path = CORPUS / f"{DEEPLAB}_edgetpu.tflite"
    cpu, out = read_model(cpu_path), read_model(compiled_path)
    analysis = _analysis_from_truth(cpu_path, compiled_path)
    truth = match_placement(cpu, out).placement
    on_cpu = Counter(op.opcode for sg in cpu.subgraphs for op in sg.operators
                     if truth[(sg.index, op.index)] == "CPU")
    on_tpu = Counter(op.opcode for sg in cpu.subgraphs for op in sg.operators
                     if truth[(sg.index, op.index)] == "TPU")
    assert on_cpu["RESIZE_BILINEAR"] == 3
    # A log written as the compiler would for this run, with one status per CPU operator.
    reason = {"RESIZE_BILINEAR": "Operation version not supported",
              "ARG_MAX": "Operation is working on an unsupported data type"}
    rows = [f"{name:<30} {n:<10} {reason.get(name, 'More than one subgraph is not supported')}"
            for name, n in on_cpu.items()]
    rows += [f"{name:<30} {n:<10} {MAPPED}" for name, n in on_tpu.items()]
    log = parse_log("Operator                       Count      Status\n" + "\n".join(rows))
    for op in analysis["ops"]:
        if op["placement"] == "CPU":
            op["status"] = reason.get(op["opcode"], "More than one subgraph is not supported")
    analysis["ops"][-1]["status"] = "Operation not supported"  # ARG_MAX, wrongly explained
    result = compare_analysis(Analysis.from_json(analysis), cpu, out, log.models[0])
    assert [(d.opcode, d.predicted_status, d.actual_status) for d in result.op_differences] == [
        ("ARG_MAX", "Operation not supported",
         "Operation is working on an unsupported data type")]
    assert {(d.operator, d.predicted, d.actual) for d in result.row_differences} == {
        ("ARG_MAX", 1, 0), ("ARG_MAX", 0, 1)}


def _edited_log(tmp_path, source: str, old: str, new: str) -> Path:
    text = (CORPUS / source).read_text()
    assert old in text
    path = tmp_path / Path(source).name
    path.write_text(text.replace(old, new, 1))
    return path


def test_log_only_histograms_and_exit_codes(tmp_path, capsys):
    cpu = CORPUS / f"{PADDING}.tflite"
    log = CORPUS / f"{PADDING}_edgetpu.log"
    result = compare_files(cpu, log_path=log)
    assert (result.compiler_version, result.version_source) == ("1.0", "log")
    assert result.agree, render_text(result)
    assert main(["compare", str(cpu), "--log", str(log)]) == 0
    wrong = _edited_log(tmp_path, f"{PADDING}_edgetpu.log", "Mapped to Edge TPU",
                        "Operation not supported")
    result = compare_files(cpu, log_path=wrong)
    assert [(d.operator, d.status, d.predicted, d.actual) for d in result.row_differences] == [
        ("PAD", MAPPED, 1, 0), ("PAD", "Operation not supported", 0, 1)]
    capsys.readouterr()
    assert main(["compare", str(cpu), "--log", str(wrong), "--json"]) == 1
    assert '"agree": false' in capsys.readouterr().out


def test_failed_compilation_against_a_model_predicted_to_compile(tmp_path):
    cpu = CORPUS / f"{PADDING}.tflite"
    failed = tmp_path / "failed.log"
    failed.write_text((CORPUS / "logs/issue-edgetpu-168.log").read_text())
    result = compare_files(cpu, log_path=failed)
    assert result.actual["verdict"] == "fails"
    assert any("NOT_QUANTIZED" in line or "INVALID_MODEL" in line
               for line in result.summary_differences)
    assert result.compiler_version == "14.1"


def test_multi_model_log_picks_the_model_by_name(tmp_path):
    ours = (CORPUS / f"{PADDING}_edgetpu.log").read_text()
    other = (CORPUS / "logs/Franco__model_edgetpu.log").read_text()
    both = tmp_path / "both.log"
    both.write_text(other + "\n" + ours)
    result = compare_files(CORPUS / f"{PADDING}.tflite", log_path=both, compiler_version="1.0")
    assert result.agree and result.actual["ops_total"] == 1
    neither = tmp_path / "neither.log"
    neither.write_text(other + "\n" + (CORPUS / "logs/edgetpu-tcn__quantized_model_edgetpu.log")
                       .read_text())
    with pytest.raises(InputError, match="none is model_padding_2x2x3.tflite"):
        compare_files(CORPUS / f"{PADDING}.tflite", log_path=neither)


def test_bad_input_exits_2(tmp_path, capsys):
    cpu = CORPUS / f"{PADDING}.tflite"
    compiled_path = CORPUS / f"{PADDING}_edgetpu.tflite"
    assert main(["compare", str(cpu)]) == 2
    assert main(["compare", str(compiled_path), "--compiled", str(compiled_path)]) == 2
    assert "is a compiled Edge TPU model" in capsys.readouterr().err
    junk = tmp_path / "junk.log"
    junk.write_bytes(b"\x00\x01" * 100)
    assert main(["compare", str(cpu), "--log", str(junk)]) == 2
    assert main(["compare", str(cpu), "--compiled", str(tmp_path / "nope.tflite")]) == 2


def test_parse_log_cli(capsys):
    log = CORPUS / "logs/issue-edgetpu-708-a.log"
    assert main(["parse-log", str(log)]) == 0
    out = capsys.readouterr().out
    assert "RESHAPE" in out and "table INCOMPLETE" in out and "summary says 157" in out
    assert main(["parse-log", str(log), "--json"]) == 0
    assert '"ops_total": 157' in capsys.readouterr().out


def test_wrong_pair_is_refused_in_one_line(capsys):
    """The compiled DeepLab is not a compiled MobileNet: no AGREE, exit 2."""
    cpu = CORPUS / "pairs/coral_transfer/mobilenet_v2_1.0_224_quant.tflite"
    assert main(["compare", str(cpu), "--compiled", str(CORPUS / f"{DEEPLAB}_edgetpu.tflite")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not compiled from mobilenet_v2_1.0_224_quant.tflite" in err[0]


def test_cpu_model_as_compiled_is_refused_in_one_line(capsys):
    cpu = CORPUS / f"{DEEPLAB}.tflite"
    assert main(["compare", str(cpu), "--compiled", str(cpu)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "not a compiled model" in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_compiled_models_are_refused_for_other_cpu_models():
    """Every corpus pair passes the check, and nearly every cross pairing of two different CPU
    files fails it. What passes (81 of 5550 when written): the same model from two sources,
    tiny synthetic models with identical inputs and outputs, and near-identical ensembles."""
    pairs = [p for p in _pairs() if not p["caveat"].startswith("exclude")]
    cpu = {p["cpu_model"]: read_model(CORPUS / p["cpu_model"]) for p in pairs}
    out = {p["edgetpu_model"]: read_model(CORPUS / p["edgetpu_model"]) for p in pairs}
    for p in pairs:
        assert compiled_from_problem(cpu[p["cpu_model"]], out[p["edgetpu_model"]]) is None
    cross = [(p, q) for p in pairs for q in pairs if p["cpu_sha256"] != q["cpu_sha256"]]
    accepted = [(p["cpu_model"], q["edgetpu_model"]) for p, q in cross
                if compiled_from_problem(cpu[p["cpu_model"]], out[q["edgetpu_model"]]) is None]
    assert len(accepted) <= 0.015 * len(cross), accepted
    assert not [a for a in accepted if "deeplab" in a[0] and ("dm05" in a[0]) != ("dm05" in a[1])]


def test_a_compile_with_nothing_mapped_is_compared():
    """LeNet float32: compiler 16 accepted it and mapped nothing, as predicted; compiler 15
    would have refused it whole, and compare says the prediction differs."""
    cpu = CORPUS / "pairs/LeNet_TFLite@58c09cc/converted_model.tflite"
    result = compare_files(cpu, cpu.with_name("converted_model_edgetpu.tflite"),
                           compiler_version="16.0")
    assert result.actual["ops_tpu"] == 0 and result.actual["ops_cpu"] == 9
    assert result.actual["tpu_subgraphs"] == 0
    assert result.agree and not result.summary_differences
    older = compare_files(cpu, cpu.with_name("converted_model_edgetpu.tflite"),
                          compiler_version="15.0")
    assert any("predicts the compiler fails" in d for d in older.summary_differences)


def test_compare_takes_the_compile_flags(capsys):
    cpu = CORPUS / f"{DEEPLAB}.tflite"
    compiled_path = CORPUS / f"{DEEPLAB}_edgetpu.tflite"
    code = main(["compare", str(cpu), "--compiled", str(compiled_path), "--compiler-version",
                 "16.0", "-a", "-m", "13", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["options"]["enable_multiple_subgraphs"] is True
    assert result["options"]["min_runtime_version"] == 13
    assert result["predicted"]["tpu_subgraphs"] == 2 and code == 1  # the real compile used one
    assert main(["compare", str(cpu), "--compiled", str(compiled_path), "-i", "no_such"]) == 2
    assert "no tensor named 'no_such'" in capsys.readouterr().err


def test_a_compiled_model_of_several_edgetpu_subgraphs_turns_a_on(capsys):
    """Without -a the compiler makes one Edge TPU subgraph: three say it ran with -a."""
    folder = next(CORPUS.glob("pairs/Coral-TPU@*/transformer"))
    args = ["compare", str(folder / "efficient_l3.tflite"),
            "--compiled", str(folder / "efficient_l3_edgetpu.tflite")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count("note: ") == 1 and out.rstrip().endswith("AGREE")
    assert "note: the compiled model holds 3 Edge TPU subgraphs, which only -a makes: " \
        "predicted with -a" in out
    assert "(compiler 16.0, default, -a -m 14)" in out
    assert main([*args, "--compiler-version", "14.1"]) == 1  # no -a then: the user's word
    assert "but compiler 14.1 has no -a: predicted without it" in capsys.readouterr().out


def test_the_log_of_another_model_is_refused_in_one_line(capsys):
    """Like a wrong --compiled: a log whose Input line names another model is no truth."""
    cpu = CORPUS / f"{PADDING}.tflite"
    logs = CORPUS / "logs/EdgeTPU_Analysis__InOut__model_padding__model_padding_{}_edgetpu.log"
    other = Path(str(logs).format("64x64x3"))
    assert main(["compare", str(cpu), "--log", str(other)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert f"{other}: the log is for model_padding_64x64x3.tflite, not " \
        "model_padding_2x2x3.tflite" in captured.err
    assert main(["compare", str(cpu), "--log", str(logs).format("2x2x3")]) == 0
