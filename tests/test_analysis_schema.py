"""The analysis JSON's type: its documents (docs/analysis.schema.json, the field table of
docs/data-contracts.md) are what tools/gen_analysis_schema.py makes of the code, real analyses
follow that schema and read back to the same JSON, and a wrong field is refused in one line
that names it (or, read leniently, noted and left out)."""

import copy
import importlib.util
import json
from pathlib import Path

import jsonschema
import pytest

from tpulens.analyzer import compare, compiled, rules, typed_json
from tpulens.analyzer.analysis import (
    RETIRED_CODES,
    UNRULED_CODES,
    Analysis,
    OpVerdict,
    ReasonCode,
)
from tpulens.analyzer.analyze import analyze_file
from tpulens.analyzer.comparison import CompilerComparison
from tpulens.analyzer.model import read_model
from tpulens.analyzer.typed_json import FieldError, Fields
from tpulens.analyzer.vocabulary import Confidence, Placement

ROOT = Path(__file__).resolve().parents[1]
DEEPLAB = "pairs/edgetpu/deeplabv3_mnv2_pascal_quant.tflite"
YOLO_FP16 = "pairs/MyYolov5@0667147/yolov5n-fp16.tflite"  # float: the int8 what-if
YOLO_COMPILED = "pairs/MyYolov5@0667147/yolov5n-int8_edgetpu.tflite"  # 16.0: no cycles
TRANSFORMER = "pairs/Coral-TPU@2facb8a/transformer/efficient_l3"  # compiled with -a
PADDING = "pairs/EdgeTPU_Analysis/InOut/model_padding/model_padding_2x2x3"  # with its log
POSENET = "pairs/test_data@086adea/posenet/posenet_mobilenet_v1_075_481_641_quant_decoder.tflite"


def _generator():
    spec = importlib.util.spec_from_file_location(
        "gen_analysis_schema", ROOT / "tools" / "gen_analysis_schema.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


def test_the_documents_are_generated_from_the_type():
    gen = _generator()
    assert gen.SCHEMA.read_text(encoding="utf-8") == gen.schema_text()
    contracts = gen.CONTRACTS.read_text(encoding="utf-8")
    assert contracts == gen.contracts_text(contracts)
    assert "| `ops[].placement` | `TPU` \\| `CPU` \\| `dropped` |" in contracts


@pytest.fixture(scope="module")
def real(corpus) -> dict[str, dict]:
    """Predicted analyses (what-ifs, culprits, notes, an estimate, -a) and two compiled
    models (one whose compiler wrote cycles, one without)."""
    return {
        "deeplab": analyze_file(corpus / DEEPLAB),
        "yolo": analyze_file(corpus / YOLO_FP16, compiler_version="16.0"),
        "deeplab -a": analyze_file(corpus / DEEPLAB, enable_multiple_subgraphs=True),
        "deeplab compiled": compiled.analysis(
            read_model(corpus / DEEPLAB.replace(".tflite", "_edgetpu.tflite"))),
        "yolo compiled": compiled.analysis(read_model(corpus / YOLO_COMPILED)),
    }


def test_real_analyses_follow_the_schema_and_read_back_to_the_same_json(real):
    schema = json.loads((ROOT / "docs" / "analysis.schema.json").read_text(encoding="utf-8"))
    deeplab = real["deeplab"]
    assert deeplab["summary"]["what_if"] and deeplab["summary"]["notes"]
    assert deeplab["summary"]["estimate"] and any(op["culprits"] for op in deeplab["ops"])
    assert real["yolo"]["summary"]["what_if"][-1]["blocking"]
    assert real["yolo compiled"]["summary"]["estimate"]["cycles"] is None
    for name, data in real.items():
        jsonschema.validate(data, schema)
        text = json.dumps(data)
        again = Analysis.from_json(json.loads(text))
        assert json.dumps(again.to_json()) == text, name
        assert Analysis.from_json(again.to_json()) == again, name
        # `analyze --json` writes the typed value as text without the JSON tree: same bytes
        assert typed_json.dumps(again) == json.dumps(again.to_json()), name


def test_the_schema_refuses_what_the_reader_refuses(real):
    schema = json.loads((ROOT / "docs" / "analysis.schema.json").read_text(encoding="utf-8"))
    data = copy.deepcopy(real["deeplab -a"])
    data["ops"][3]["placement"] = "GPU"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)
    with pytest.raises(FieldError, match=r"^ops\[3\]\.placement 'GPU' is not one of TPU, CPU"):
        Analysis.from_json(data)


WRONG = [
    (("ops", 2, "index"), "2", "ops[2].index is a string, expected an integer"),
    (("summary", "ops_tpu"), 6.5, "summary.ops_tpu is a number, expected an integer"),
    (("summary", "estimate", "latency_ms", "usb3"), float("nan"),
     "summary.estimate.latency_ms.usb3 is not finite"),
    (("summary", "estimate", "parameters", "on_chip_bytes"), True,
     "summary.estimate.parameters.on_chip_bytes is a boolean, expected an integer"),
    (("summary", "what_if", 0, "flags"), "-a", "summary.what_if[0].flags is a string"),
    (("ops", 0, "output_tensors", 0, "shape"), [1, "x"],
     "ops[0].output_tensors[0].shape is a list, expected a list of integers"),
    (("ops", 0, "confidence"), "certain", "ops[0].confidence 'certain' is not one of high, low"),
    (("errors",), [3], "errors[0] is a number, expected a message"),
    (("model", "kind"), "onnx", "model.kind 'onnx' is not one of cpu, compiled"),
    (("ops", 1, "reason_code"), "TOO_BIG", "ops[1].reason_code 'TOO_BIG' is not a known "
     "reason code"),
    (("ops", 1, "confidence_code"), "unsure", "ops[1].confidence_code 'unsure' is not one of "
     "near_limit"),
]


def _set(data: dict, path: tuple, value) -> dict:
    data = copy.deepcopy(data)
    holder = data
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return data


@pytest.mark.parametrize("path,value,message", WRONG)
def test_a_wrong_field_is_refused_in_one_line_that_names_it(real, path, value, message):
    data = _set(real["deeplab"], path, value)
    with pytest.raises(FieldError) as refused:
        Analysis.from_json(data)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)
    lenient = Fields(lenient=True)
    read = Analysis.from_json(data, lenient)
    assert len(lenient.notes) == 1 and lenient.notes[0].startswith(message)
    assert len(read.ops) == len(data["ops"])  # the rest is read


def test_a_lenient_read_leaves_the_wrong_field_at_its_default(real):
    data = _set(real["deeplab"], ("ops", 5, "placement"), "GPU")
    data = _set(data, ("ops", 5, "confidence"), 1)
    read = Analysis.from_json(data, Fields(lenient=True))
    assert read.ops[5].placement == Placement.CPU and read.ops[5].confidence is None
    assert read.ops[4] == Analysis.from_json(real["deeplab"]).ops[4]


def test_the_reason_codes_are_the_rules_registry_codes():
    """One source: every code a rule can give an op is a ReasonCode, and every ReasonCode is a
    rule's code, one of the few no rule gives (MAPPED, a compiled model's two) or one older
    files hold. Advice rules choose a fix, never an op's reason: theirs are not codes."""
    registered = {r.reason_code for r in rules.RULES if r.scope != rules.Scope.ADVICE}
    advice = {r.reason_code for r in rules.RULES if r.scope == rules.Scope.ADVICE}
    assert advice and not advice & set(ReasonCode)
    assert registered <= set(ReasonCode)
    assert set(ReasonCode) - registered == set(UNRULED_CODES) | set(RETIRED_CODES)
    assert not registered & (set(UNRULED_CODES) | set(RETIRED_CODES))
    assert {"UNSUPPORTED_OP", "AFTER_PARTITION", "MODEL_NOT_QUANTIZED"} <= registered


def test_verdicts_read_back_with_typed_codes(real):
    deeplab = Analysis.from_json(real["deeplab"])
    assert all(isinstance(op.reason_code, ReasonCode) for op in deeplab.ops)
    assert {op.reason_code for op in deeplab.ops} >= {ReasonCode.MAPPED,
                                                       ReasonCode.AFTER_PARTITION}
    compiled_ops = Analysis.from_json(real["yolo compiled"]).ops
    assert {op.reason_code for op in compiled_ops} == {ReasonCode.EDGETPU_SUBGRAPH,
                                                       ReasonCode.LEFT_ON_CPU}


def test_a_low_verdict_says_why_as_a_code(real, corpus):
    """The code of a low verdict is written beside its words; a sure verdict has none. The
    PoseNet decoder's dead outputs are the corpus's unsure verdicts at the default options."""
    posenet = analyze_file(corpus / POSENET)
    for data in (*real.values(), posenet):
        ops = Analysis.from_json(data).ops
        assert all((op.confidence == Confidence.LOW) == (op.confidence_code is not None)
                   for op in ops), data["model"]["name"]
    low = [op for op in Analysis.from_json(posenet).ops if op.confidence_code]
    assert len(low) == posenet["summary"]["ops_low_confidence"] == 33
    assert {op.confidence_code for op in low} == {rules.ConfidenceReason.DEAD_OP}
    assert {op.placement for op in low} == {Placement.DROPPED}


def test_a_lenient_read_keeps_an_unknown_reason_code_as_text(real):
    """An older file, or one from another version's rules, still shows the op and its code."""
    data = _set(real["deeplab"], ("ops", 7, "reason_code"), "RETIRED_RULE")
    lenient = Fields(lenient=True)
    read = Analysis.from_json(data, lenient)
    assert read.ops[7].reason_code == "RETIRED_RULE" and len(read.ops) == len(data["ops"])
    assert lenient.notes == ["ops[7].reason_code 'RETIRED_RULE' is not a known reason code "
                             "(`tpulens rules` lists them)"]


def test_absent_fields_take_their_defaults():
    """Hand-written and older files leave fields out: that is no error."""
    read = Analysis.from_json({"summary": {"ops_total": 1}, "ops": [{"opcode": "ADD"}, {}]})
    assert read.summary.ops_total == 1 and read.summary.estimate is None
    assert read.ops[1] == OpVerdict(index=1)  # an op without an index is at its position
    assert read.ops[0].confidence is None and read.ops[0].placement == Placement.CPU
    assert read.to_json()["ops"][0]["opcode"] == "ADD"
    assert "confidence" not in read.to_json()["ops"][0]  # optional fields stay out
    assert "confidence_code" not in read.to_json()["ops"][0]


def test_an_unknown_schema_version_or_another_document_is_refused():
    with pytest.raises(FieldError, match=r"schema_version 3 is not supported"):
        Analysis.from_json({"schema_version": 3, "summary": {}, "ops": []},
                           Fields(lenient=True))
    with pytest.raises(FieldError, match="not an analysis JSON"):
        Analysis.from_json({"schema_version": 1, "agree": True})


def test_the_analyses_kept_in_history_read_strictly():
    """Files written by earlier versions, retired reason codes included, read at their types."""
    kept = [p for p in sorted((ROOT / "results" / "history").glob("*/analysis/*.json"))
            if not p.name.endswith(".comparison.json")]
    codes = set()
    for path in kept:
        analysis = Analysis.from_json(json.loads(path.read_text(encoding="utf-8")))
        codes |= {op.reason_code for op in analysis.ops}
    assert all(isinstance(code, ReasonCode) for code in codes)
    assert ReasonCode.MODEL_REJECTED in codes


def test_the_committed_analyses_read_strictly(committed_analyses):
    """Every analysis the default suite wrote reads at its type and writes the same JSON."""
    for path in committed_analyses:
        data = json.loads(path.read_text(encoding="utf-8"))
        assert Analysis.from_json(data).to_json() == data, path.name
    assert any(Analysis.from_json(json.loads(p.read_text())).ops[0].confidence
               == Confidence.HIGH for p in committed_analyses)


@pytest.fixture
def committed_analyses() -> list[Path]:
    paths = [p for p in sorted((ROOT / "results" / "analysis").glob("*.json"))
             if not p.name.endswith(".comparison.json")]
    assert len(paths) >= 20
    return paths


def test_comparisons_read_back_at_their_types(corpus, tmp_path):
    """What `tpulens compare --json` writes (against a compiled model, a log, a failed compile)
    reads at its types and writes the same JSON; a wrong field is refused in one line."""
    failed = tmp_path / "failed.log"
    failed.write_text((corpus / "logs/issue-edgetpu-168.log").read_text())
    made = {
        "compiled": compare.compare_files(corpus / f"{TRANSFORMER}.tflite",
                                          corpus / f"{TRANSFORMER}_edgetpu.tflite",
                                          compiler_version="2.1"),
        "log": compare.compare_files(corpus / f"{PADDING}.tflite",
                                     log_path=corpus / f"{PADDING}_edgetpu.log"),
        "failed": compare.compare_files(corpus / f"{PADDING}.tflite", log_path=failed),
    }
    for name, result in made.items():
        data = json.loads(json.dumps(result.to_json()))
        assert CompilerComparison.from_json(data).to_json() == data, name
    read = CompilerComparison.from_json(made["compiled"].to_json())
    assert len(read.op_differences) == 157 and read.actual.tpu_subgraphs == 3
    assert {(d.predicted_placement, d.actual_placement) for d in read.op_differences} == {
        (Placement.CPU, Placement.TPU)}
    assert CompilerComparison.from_json(made["failed"].to_json()).actual.verdict == "fails"
    data = _set(made["compiled"].to_json(), ("actual", "ops_tpu"), "157")
    with pytest.raises(FieldError, match=r"^actual\.ops_tpu is a string, expected an integer$"):
        CompilerComparison.from_json(data)
    with pytest.raises(FieldError, match="not a comparison JSON"):
        CompilerComparison.from_json({"summary": {}, "ops": []})  # an analysis
