"""The detection experiment end to end on the `quick` profile: generate, train once, export
float and int8 with TFLite_Detection_PostProcess, evaluate with COCO metrics; plus the
cross-process cache lock and bring-your-own evaluation of an exported detector."""

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest
import tflite
from tpulens.runners.detection import run_variant, store, synth
from tpulens.runners.detection.coco_eval import STAT_NAMES, ground_truth
from tpulens.runners.detection.datasets import Box, Sample, load_voc, voc_xml
from tpulens.runners.detection.pipeline import load_split
from tpulens.runners.detection.settings import resolve

from tpulens.errors import InputError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    # Under pytest-xdist every worker running these tests shares one cache (the session's
    # temp root), so the file lock lets one train and the others reuse its model.
    base = tmp_path_factory.getbasetemp()
    cache = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "detection-cache"
    runs = {}
    for export in ("int8", "float", "keras"):
        start = time.perf_counter()
        runs[export] = run_variant({"export": export}, cache, "quick")
        runs[export]["seconds"] = time.perf_counter() - start
    return runs


def tensor_types(path: str):
    """(opcode names with custom codes, {tensor type of every CONV_2D output}, input type)."""
    model = tflite.Model.GetRootAsModel(Path(path).read_bytes(), 0)
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


def test_quick_profile_records(quick_runs):
    for export, result in quick_runs.items():
        metrics = result["metrics"]
        expected = {f"coco_{n}" for n in STAT_NAMES} | {"coco_AP_bag", "coco_AP_trouser"}
        assert expected | {"size_bytes", "latency_ms_p50"} <= set(metrics), export
        assert all(-1 <= metrics[name] <= 1 for name in expected)
        assert metrics["size_bytes"] > 100_000 and metrics["latency_ms_p50"] > 0
        assert set(result["metric_info"]) == set(metrics)
        json.dumps(result)  # the pipeline writes it as a JSON record
    assert quick_runs["keras"]["artifacts"]["tflite"] is None
    # one training serves every variant: the later ones reuse the int8 variant's model
    assert len({result["artifacts"]["weights"] for result in quick_runs.values()}) == 1
    assert "reused from cache" in quick_runs["float"]["notes"][0]
    assert "reused from cache" in quick_runs["keras"]["notes"][0]


def test_training_lowers_the_loss(quick_runs):
    weights = Path(quick_runs["int8"]["artifacts"]["weights"])
    info = json.loads((weights.parent / "train.json").read_text())
    assert info["losses"][-1] < 0.85 * info["losses"][0]


def test_exports_end_in_the_postprocess_op_and_int8_is_integer(quick_runs):
    float_ops, float_convs, float_input = tensor_types(quick_runs["float"]["artifacts"]["tflite"])
    int8_ops, int8_convs, int8_input = tensor_types(quick_runs["int8"]["artifacts"]["tflite"])
    assert float_ops.count("TFLite_Detection_PostProcess") == 1
    assert int8_ops.count("TFLite_Detection_PostProcess") == 1
    assert float_convs == {tflite.TensorType.FLOAT32} and float_input == tflite.TensorType.FLOAT32
    assert int8_convs == {tflite.TensorType.INT8} and int8_input == tflite.TensorType.UINT8
    assert "DEQUANTIZE" in int8_ops and "QUANTIZE" in int8_ops
    assert (
        quick_runs["int8"]["metrics"]["size_bytes"]
        < 0.5 * quick_runs["float"]["metrics"]["size_bytes"]
    )


def test_bring_your_own_tflite_matches_our_own_evaluation(quick_runs, tmp_path):
    own = quick_runs["float"]
    params = {
        "tflite": own["artifacts"]["tflite"],
        "dataset": own["artifacts"]["dataset"],
        "eval_split": "test",
    }
    result = run_variant(params, tmp_path, "quick")
    for name in STAT_NAMES:
        assert result["metrics"][f"coco_{name}"] == pytest.approx(own["metrics"][f"coco_{name}"])
    assert result["artifacts"]["tflite"] == own["artifacts"]["tflite"]
    assert not list(tmp_path.rglob("*.h5"))  # nothing was trained
    # the same test images as a COCO JSON (every image of it is evaluated by default)
    voc = Path(own["artifacts"]["dataset"])
    coco = tmp_path / "test.json"
    coco.write_text(json.dumps(ground_truth(load_voc(voc, split="test"))))
    params = {"tflite": own["artifacts"]["tflite"], "dataset": str(coco)}
    from_coco = run_variant({**params, "images_dir": str(voc / "JPEGImages")}, tmp_path, "quick")
    assert from_coco["metrics"]["coco_AP"] == pytest.approx(own["metrics"]["coco_AP"])


def test_bring_your_own_needs_a_detector(tmp_path):
    fake = tmp_path / "m.tflite"
    fake.write_bytes(b"not a model")
    voc = tmp_path / "voc"
    synth.generate(voc, images=5, image_size=64)
    with pytest.raises(InputError, match="m.tflite: not a TFLite flatbuffer|no TFLite_Detection"):
        run_variant({"tflite": str(fake), "dataset": str(voc)}, tmp_path, "quick")
    with pytest.raises(InputError, match="needs a 'dataset'"):
        resolve({"tflite": str(fake)}, "quick")
    with pytest.raises(InputError, match="unknown key 'epoch'"):
        resolve({"epoch": 3}, "quick")
    with pytest.raises(InputError, match="'epochs' = 'ten' has the wrong type"):
        resolve({"epochs": "ten"}, "quick")
    assert resolve({"learning_rate": 1, "classes": ["bag", "dress"]}, "full").classes == (
        "bag",
        "dress",
    )


def slow_build(target: Path, log: Path) -> None:
    def build(tmp: Path) -> None:
        with log.open("a") as handle:
            handle.write("built\n")
        time.sleep(0.5)
        (tmp / "done").write_text("ok")

    store.cached_dir(target, build)


def test_cache_builds_once_across_processes(tmp_path):
    target, log = tmp_path / "model-x", tmp_path / "log"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=slow_build, args=(target, log)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert log.read_text() == "built\n"
    assert (target / "done").read_text() == "ok"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def user_voc_folder(folder: Path, count: int) -> Path:
    """A flat makesense-style folder (JPEG + XML side by side, no split files), car/truck."""
    generated = synth.generate(folder / "gen", images=count, image_size=64, seed=5)
    flat = folder / "flat"
    flat.mkdir()
    for sample in generated:
        renamed = [
            Box("car" if b.label == "bag" else "truck", b.xmin, b.ymin, b.xmax, b.ymax)
            for b in sample.boxes
        ]
        image = flat / f"img_{sample.image_path.stem}.jpg"
        image.write_bytes(sample.image_path.read_bytes())
        xml = voc_xml(Sample(image, sample.width, sample.height, tuple(renamed)))
        (flat / f"img_{sample.image_path.stem}.xml").write_text(xml)
    return flat


def test_seeded_split_of_a_folder_without_split_files(tmp_path):
    flat = user_voc_folder(tmp_path, 15)
    cfg = resolve({"dataset": str(flat)}, "quick")
    parts = [load_split(cfg, flat, name).samples for name in ("train", "val", "test")]
    assert [len(p) for p in parts] == [11, 2, 2]
    names = [s.image_path.name for p in parts for s in p]
    assert sorted(names) == sorted(p.name for p in flat.glob("*.jpg"))
    assert load_split(cfg, flat, "test").samples == parts[2]  # seeded: the same every time
    assert parts[0] and load_split(cfg, flat, "train").classes == ("car", "truck")


def test_training_on_the_users_own_dataset(tmp_path):
    flat = user_voc_folder(tmp_path, 15)
    params = {"dataset": str(flat), "export": "keras", "epochs": 1, "image_size": 64}
    result = run_variant(params, tmp_path / "cache", "quick")
    assert {"coco_AP_car", "coco_AP_truck"} <= set(result["metrics"])
    assert "on 11 images" in result["notes"][0]
    assert any("2 'test' images" in note for note in result["notes"])
