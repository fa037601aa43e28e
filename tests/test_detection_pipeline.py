"""The detection experiment as pipeline stages. The quick suite (tests/conftest.py) generates
the data, trains once for its Keras, float and int8 variants, exports with
TFLite_Detection_PostProcess and measures with COCO metrics; a second small suite brings its
own detector and its own datasets (VOC, COCO JSON, a flat labelling-tool folder)."""

import json
import statistics
from pathlib import Path

import pytest
import tflite
from detection_data import user_voc_folder

from tpulens.runners import pipeline
from tpulens.runners.detection.coco_eval import STAT_NAMES, ground_truth
from tpulens.runners.detection.datasets import load_voc

pytestmark = pytest.mark.slow
EXPORTS = ("keras", "float", "int8")


@pytest.fixture(scope="module")
def detection(quick_suite):
    """(results dir, cache steps dir, {variant: record}) of the quick suite's detection."""
    root, _, _, records = quick_suite
    return (root / "results", root / ".cache" / "tpulens" / "steps",
            {v: records["detection", v] for v in EXPORTS})


def manifest(steps: Path, stage: str) -> dict:
    found = sorted(steps.glob(f"{stage}-*/manifest.json"))
    assert len(found) == 1, found
    return json.loads(found[0].read_text())


def tensor_types(path: Path):
    """(opcode names with custom codes, {tensor type of every CONV_2D output}, input type)."""
    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    names, conv_types = [], set()
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        opcode = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if opcode == tflite.BuiltinOperator.CUSTOM:
            names.append(code.CustomCode().decode())
        else:
            names.append(tflite.opcode2name(opcode))
        if opcode == tflite.BuiltinOperator.CONV_2D:
            conv_types.add(graph.Tensors(op.Outputs(0)).Type())
    return names, conv_types, graph.Tensors(graph.Inputs(0)).Type()


def test_keras_float_and_int8_rows_of_the_coco_table(detection):
    results, steps, records = detection
    for export, record in records.items():
        metrics = record["metrics"]
        expected = {f"coco_{n}" for n in STAT_NAMES} | {"coco_AP_bag", "coco_AP_trouser"}
        assert expected | {"size_bytes", "latency_ms_p50"} <= set(metrics), export
        assert all(-1 <= metrics[name] <= 1 for name in expected)
        assert metrics["size_bytes"] > 100_000 and metrics["latency_ms_p50"] > 0
        assert set(record["metric_info"]) == set(metrics)
        assert record["metric_info"]["coco_AP"]["better"] == "higher"
        assert "thread" in record["metric_info"]["latency_ms_p50"]["description"]
        samples = record["samples"]["latency_ms"]  # kept for `tpulens diff`'s test
        assert len(samples) == record["params"]["latency_runs"]
        assert statistics.median(samples) == pytest.approx(metrics["latency_ms_p50"], abs=1e-3)
        assert record["params"]["export"] == export
    assert "tflite" not in records["keras"]["artifacts"]
    assert "edgetpu_ops_tpu" not in records["keras"]["metrics"]  # nothing to compile
    assert records["int8"]["metrics"]["edgetpu_ops_tpu"] > 0
    # one dataset and one training serve every variant; one export per TFLite variant
    assert len(list(steps.glob("detection_dataset-*"))) == 1
    assert len(list(steps.glob("detection_train-*"))) == 1
    assert len(list(steps.glob("detection_export-*"))) == 2
    train_note = next(n for n in records["int8"]["notes"] if "trained from scratch" in n)
    assert all(train_note in record["notes"] for record in records.values())


def test_training_lowers_the_loss(detection):
    _, steps, _ = detection
    losses = manifest(steps, "detection_train")["info"]["losses"]
    assert losses[-1] < 0.85 * losses[0]


def test_exports_end_in_the_postprocess_op_and_int8_is_integer(detection):
    results, _, records = detection
    float_ops, float_convs, float_input = tensor_types(
        results / records["float"]["artifacts"]["tflite"])
    int8_ops, int8_convs, int8_input = tensor_types(
        results / records["int8"]["artifacts"]["tflite"])
    assert float_ops.count("TFLite_Detection_PostProcess") == 1
    assert int8_ops.count("TFLite_Detection_PostProcess") == 1
    assert float_convs == {tflite.TensorType.FLOAT32} and float_input == tflite.TensorType.FLOAT32
    assert int8_convs == {tflite.TensorType.INT8} and int8_input == tflite.TensorType.UINT8
    assert "DEQUANTIZE" in int8_ops and "QUANTIZE" in int8_ops
    assert records["int8"]["metrics"]["size_bytes"] < \
        0.5 * records["float"]["metrics"]["size_bytes"]


def test_example_images_with_true_and_predicted_boxes(detection):
    results, _, records = detection
    shown = {}
    for export, record in records.items():
        examples_json = results / record["artifacts"]["examples"]
        examples = json.loads(examples_json.read_text())
        assert examples["classes"] == ["bag", "trouser"]
        assert len(examples["images"]) == record["params"]["example_images"]
        for image in examples["images"]:
            assert (examples_json.parent / image["file"]).is_file()
            assert image["ground_truth"]
            for box in image["ground_truth"] + image["predictions"]:
                xmin, ymin, xmax, ymax = box["box"]
                assert 0 <= xmin < xmax <= image["width"] and 0 <= ymin < ymax <= image["height"]
                assert box["label"] in examples["classes"]
            scores = [p["score"] for p in image["predictions"]]
            assert scores == sorted(scores, reverse=True)
            assert all(s >= examples["min_score"] for s in scores)
        shown[export] = [(i["source"], i["ground_truth"]) for i in examples["images"]]
    assert shown["keras"] == shown["float"] == shown["int8"]  # the same images side by side


@pytest.fixture(scope="module")
def own_suite(detection, tmp_path_factory):
    """Bring-your-own variants: the quick suite's float detector evaluated on its own
    generated VOC set and on the same test images as COCO JSON, and a Keras detector trained
    on a flat folder of labelling-tool XMLs (car/truck)."""
    _, steps, records = detection
    root = tmp_path_factory.mktemp("own")
    voc = Path(manifest(steps, "detection_dataset")["outputs"]["dataset"])
    if not voc.is_absolute():
        voc = steps.parent / voc
    float_tflite = steps.parent / manifest_of_export(steps, "float")["outputs"]["tflite"]
    (root / "test.json").write_text(json.dumps(ground_truth(load_voc(voc, split="test"))))
    flat = user_voc_folder(root, 15)
    (root / "benchmarks.toml").write_text(f"""
schema_version = 1

[profiles.quick]
train_samples = 1
test_samples = 1
eval_train_samples = 1
calibration_samples = 1
epochs = 1
finetune_epochs = 1
latency_warmup = 1
latency_runs = 2
detection = {{ latency_runs = 3, example_images = 1 }}

[experiments.own]
kind = "detection"

[[experiments.own.variants]]
name = "voc"
params = {{ tflite = "{float_tflite}", dataset = "{voc}", eval_split = "test" }}

[[experiments.own.variants]]
name = "coco"
params = {{ tflite = "{float_tflite}", dataset = "test.json", images_dir = "{voc}/JPEGImages" }}

[[experiments.own.variants]]
name = "flat"
params = {{ dataset = "{flat.name}", export = "keras", epochs = 1, image_size = 64 }}
""")
    summary = pipeline.run_suite(root / "benchmarks.toml", "quick", jobs=2, progress=False)
    assert not summary.failed
    own = {p.stem: json.loads(p.read_text()) for p in (root / "results" / "own").glob("*.json")}
    return root, own, records["float"]


def manifest_of_export(steps: Path, kind: str) -> dict:
    for path in steps.glob("detection_export-*/manifest.json"):
        found = json.loads(path.read_text())
        if found["outputs"]["tflite"].endswith(f"{kind}.tflite"):
            return found
    raise AssertionError(f"no {kind} export")


def test_bring_your_own_tflite_matches_our_own_evaluation(own_suite):
    root, own, float_record = own_suite
    for name in STAT_NAMES:
        assert own["voc"]["metrics"][f"coco_{name}"] == pytest.approx(
            float_record["metrics"][f"coco_{name}"])
    # the same test images as a COCO JSON (every image of it is evaluated by default)
    assert own["coco"]["params"]["eval_split"] == "all"
    assert own["coco"]["metrics"]["coco_AP"] == pytest.approx(float_record["metrics"]["coco_AP"])
    assert len(list((root / ".cache/tpulens/steps").glob("detection_train-*"))) == 1  # "flat"
    assert any("bring-your-own detector float.tflite" in n for n in own["voc"]["notes"])


def test_training_on_the_users_own_dataset(own_suite):
    _, own, _ = own_suite
    flat = own["flat"]
    assert {"coco_AP_car", "coco_AP_truck"} <= set(flat["metrics"])
    assert any("on 11 images" in note for note in flat["notes"])
    assert any("2 'test' images" in note for note in flat["notes"])

