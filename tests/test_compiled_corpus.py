"""Compiled `*_edgetpu.tflite` files of the corpus: custom ops, packages, per-op ground truth."""

import csv
import shutil
from collections import Counter

import pytest

from tpulens.analyzer import compiled
from tpulens.analyzer.analysis_report import render_compiled
from tpulens.analyzer.ground_truth import CORPUS, match_placement
from tpulens.analyzer.model import read_model

pytestmark = pytest.mark.skipif(not (CORPUS / "PAIRS.tsv").is_file(),
                                reason=f"ground-truth corpus not found at {CORPUS}")


def _pairs() -> list[dict]:
    if not (CORPUS / "PAIRS.tsv").is_file():
        return []
    with open(CORPUS / "PAIRS.tsv", newline="") as f:
        return [r for r in csv.DictReader(f, delimiter="\t") if r["kind"] == "pair"]


PAIRS = _pairs()


def _histogram(text: str) -> Counter:
    counts = Counter()
    for item in text.split():
        name, _, count = item.rpartition(":")
        counts[name] += int(count)
    return counts


def _key(op) -> str:
    return f"CUSTOM:{op.custom_code}" if op.opcode == "CUSTOM" else op.opcode


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p["cpu_model"][-60:])
def test_truth_from_compiled_matches_pairs_tsv(pair):
    cpu = read_model(CORPUS / pair["cpu_model"])
    out = read_model(CORPUS / pair["edgetpu_model"])
    truth = match_placement(cpu, out).placement
    ops = {(sg.index, op.index): op for sg in cpu.subgraphs for op in sg.operators}
    assert truth.keys() == ops.keys()
    on_cpu = Counter(_key(ops[k]) for k, where in truth.items() if where == "CPU")
    assert on_cpu == _histogram(pair["ops_left_on_cpu"])
    desc = compiled.analysis(out)
    assert desc["summary"]["tpu_subgraphs"] == int(pair["edgetpu_custom_ops"])
    # Compiled even where nothing mapped: the compiler rewrote the file's description.
    assert compiled.is_compiled(out) and not compiled.is_compiled(cpu)
    assert Counter(desc["edgetpu"]["cpu_ops_histogram"]) == _histogram(pair["ops_left_on_cpu"])


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p["edgetpu_model"][-60:])
def test_every_package_is_read(pair):
    desc = compiled.analysis(read_model(CORPUS / pair["edgetpu_model"]))
    assert desc["warnings"] == []
    packages = desc["edgetpu"]["packages"]
    assert len(packages) == len(desc["edgetpu"]["custom_ops"])  # one package per Edge TPU op
    for op in desc["edgetpu"]["custom_ops"]:
        package = packages[op["package"]]
        assert package["min_runtime_version"] in (10, 11, 12, 13, 14)
        # Every released compiler writes "cl/" with no number: not a version.
        assert package["compiler_version"] is None
        types = {e["type"] for e in package["executables"]}
        assert types in ({"STAND_ALONE"}, {"EXECUTION_ONLY", "PARAMETER_CACHING"})
        main = next(e for e in package["executables"] if e["type"] != "PARAMETER_CACHING")
        # The executable's layers are the custom op's boundary tensors, by name.
        assert main["inputs"] == op["inputs"] or set(main["inputs"]) <= set(op["inputs"])
        assert set(main["outputs"]) <= set(op["outputs"])
        assert all(e["chip"] == "beagle" for e in package["executables"])
        assert all(e["name"] != "Unknown" for e in package["executables"])
    assert desc["summary"]["source"] == "compiler" and desc["compiler_version"] is None


def test_deeplab_follows_the_analysis_contract(capsys):
    path = CORPUS / "pairs/edgetpu/deeplabv3_mnv2_pascal_quant_edgetpu.tflite"
    desc = compiled.analysis(read_model(path))
    assert desc["model"]["kind"] == "compiled" and desc["source"] == "compiler"
    assert {k: desc["summary"][k] for k in ("ops_total", "ops_tpu", "ops_cpu", "verdict")} == {
        "ops_total": 8, "ops_tpu": 1, "ops_cpu": 7, "verdict": "partial"}
    assert [(o["opcode"], o["placement"], o["source"]) for o in desc["ops"]][:2] == [
        ("CUSTOM", "TPU", "compiler"), ("RESIZE_BILINEAR", "CPU", "compiler")]
    edgetpu = desc["edgetpu"]
    assert [t["name"] for t in edgetpu["boundary_tensors"]["inputs"]] == [
        "MobilenetV2/MobilenetV2/input"]
    assert [t["name"] for t in edgetpu["boundary_tensors"]["outputs"]] == [
        "aspp0/Relu", "image_pooling/Relu"]
    assert edgetpu["cpu_ops_histogram"] == {"ARG_MAX": 1, "CONCATENATION": 1, "CONV_2D": 2,
                                            "RESIZE_BILINEAR": 3}
    text = render_compiled(desc)
    assert "1 Edge TPU subgraph(s), 7 op(s) left on the CPU" in text
    assert "PARAMETER_CACHING" in text and "Unknown" not in text and "cl/" not in text


def test_compiler_16_options_carry_chip_ids():
    path = CORPUS / "pairs/coral_transfer/mobilenet_v2_1.0_224_quant_edgetpu.tflite"
    desc = compiled.analysis(read_model(path))
    (op,) = desc["edgetpu"]["custom_ops"]
    assert op["options"]["chip_ids"] == [18] and op["options"]["extra_executables"] == 0
    assert desc["edgetpu"]["packages"][0]["min_runtime_version"] == 14
    assert desc["options"]["min_runtime_version"] == 14


def test_damaged_package_is_reported_not_raised(tmp_path):
    source = (CORPUS / "pairs/EdgeTPU_Analysis/InOut/model_padding"
              / "model_padding_2x2x3_edgetpu.tflite")
    model = read_model(source)
    (op,) = [o for o in model.operators if compiled.is_edgetpu_op(o)]
    offset, _ = op.custom_options
    data = bytearray(source.read_bytes())
    package_at = bytes(data).index(b"DWN1", offset) - 4
    data[package_at:package_at + 4] = (10**9).to_bytes(4, "little")  # root offset past the end
    damaged = tmp_path / "damaged_edgetpu.tflite"
    damaged.write_bytes(bytes(data))
    desc = compiled.analysis(read_model(damaged))
    assert desc["summary"]["tpu_subgraphs"] == 1
    assert desc["edgetpu"]["custom_ops"][0]["package"] is None
    assert "unreadable" in desc["warnings"][0]


@pytest.mark.parametrize("name", ["LeNet_TFLite@58c09cc/converted_model",
                                  "MyYolov5@0667147/yolov5n-fp16"])
def test_compiled_model_with_nothing_mapped(name):
    """The compiler accepted these float models and mapped nothing: no custom op, every op on
    the CPU, and the file is still told apart from its CPU model by its description."""
    cpu = read_model(CORPUS / f"pairs/{name}.tflite")
    out = read_model(CORPUS / f"pairs/{name}_edgetpu.tflite")
    assert out.description in compiled.COMPILER_DESCRIPTIONS and out.metadata == {}
    assert cpu.description == "MLIR Converted." and not compiled.is_compiled(cpu)
    desc = compiled.analysis(out)
    assert desc["summary"]["verdict"] == "none" and desc["summary"]["ops_tpu"] == 0
    assert desc["summary"]["ops_cpu"] == len(cpu.operators)
    assert set(match_placement(cpu, out).placement.values()) == {"CPU"}
    assert "nothing mapped" in render_compiled(desc)


def test_a_cpu_model_is_not_compiled(tmp_path):
    cpu = CORPUS / "pairs/Franco@39e2fdc/model.tflite"
    copy = tmp_path / "model.tflite"
    shutil.copy(cpu, copy)
    model = read_model(copy)
    assert not compiled.is_compiled(model)
    assert set(match_placement(model, model).placement.values()) == {"CPU"}


def _chain_of_custom_ops(options: bytes, count: int) -> bytes:
    """A model of `count` distinct edgetpu-custom-op ops in a chain, all pointing at one
    custom-options vector (as the red team's compiled_shared_*.tflite, minus the shared op
    table)."""
    import flatbuffers
    import tflite

    b = flatbuffers.Builder(1024)

    def ints(start, values):
        start(b, len(values))
        for v in reversed(values):
            b.PrependInt32(v)
        return b.EndVector()

    shared = b.CreateByteVector(options)
    tensors = []
    for i in range(count + 1):
        name = b.CreateString(f"t{i}")
        shape = ints(tflite.TensorStartShapeVector, [1, 4])
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, 3)  # UINT8
        tflite.TensorAddName(b, name)
        tensors.append(tflite.TensorEnd(b))
    ops = []
    for i in range(count):
        ins = ints(tflite.OperatorStartInputsVector, [i])
        outs = ints(tflite.OperatorStartOutputsVector, [i + 1])
        tflite.OperatorStart(b)
        tflite.OperatorAddInputs(b, ins)
        tflite.OperatorAddOutputs(b, outs)
        tflite.OperatorAddCustomOptions(b, shared)
        ops.append(tflite.OperatorEnd(b))

    def tables(start, items):
        start(b, len(items))
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        return b.EndVector()

    t_vec = tables(tflite.SubGraphStartTensorsVector, tensors)
    o_vec = tables(tflite.SubGraphStartOperatorsVector, ops)
    i_vec = ints(tflite.SubGraphStartInputsVector, [0])
    out_vec = ints(tflite.SubGraphStartOutputsVector, [count])
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, t_vec)
    tflite.SubGraphAddOperators(b, o_vec)
    tflite.SubGraphAddInputs(b, i_vec)
    tflite.SubGraphAddOutputs(b, out_vec)
    graph = tflite.SubGraphEnd(b)
    custom = b.CreateString(compiled.EDGETPU_CUSTOM_CODE)
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, 32)  # CUSTOM
    tflite.OperatorCodeAddBuiltinCode(b, 32)
    tflite.OperatorCodeAddCustomCode(b, custom)
    code = tflite.OperatorCodeEnd(b)
    codes = tables(tflite.ModelStartOperatorCodesVector, [code])
    graphs = tables(tflite.ModelStartSubgraphsVector, [graph])
    tflite.BufferStart(b)
    buffers = tables(tflite.ModelStartBuffersVector, [tflite.BufferEnd(b)])
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes)
    tflite.ModelAddSubgraphs(b, graphs)
    tflite.ModelAddBuffers(b, buffers)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_a_shared_package_is_decoded_once(monkeypatch):
    """2,000 Edge TPU ops sharing one 1.5 MB options buffer: decoded once, listed once."""
    from tpulens.analyzer.model import model_from_bytes

    real = read_model(CORPUS / "pairs/edgetpu/deeplabv3_mnv2_pascal_quant_edgetpu.tflite")
    (op,) = [o for o in real.operators if compiled.is_edgetpu_op(o)]
    offset, length = op.custom_options
    model = model_from_bytes(_chain_of_custom_ops(bytes(real.buf[offset:offset + length]),
                                                  2000), "chain_edgetpu.tflite")
    from tpulens.analyzer import edgetpu_package

    calls = []
    original = edgetpu_package.read_package
    monkeypatch.setattr(edgetpu_package, "read_package",
                        lambda buf: calls.append(1) or original(buf))
    desc = compiled.analysis(model)
    assert len(calls) == 1
    assert desc["summary"]["tpu_subgraphs"] == 2000 and len(desc["edgetpu"]["packages"]) == 1
    assert {c["package"] for c in desc["edgetpu"]["custom_ops"]} == {0}


def test_report_accepts_a_compiled_analysis():
    from tpulens.report.load import is_analysis, normalize_analysis

    path = CORPUS / "pairs/edgetpu/deeplabv3_mnv2_pascal_quant_edgetpu.tflite"
    desc = compiled.analysis(read_model(path))
    assert is_analysis(desc)
    data = normalize_analysis(desc)
    assert data["source"] == "compiler" and len(data["ops"]) == 8
    assert [op["placement"] for op in data["ops"]].count("TPU") == 1
