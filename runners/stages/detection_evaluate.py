"""`detection_evaluate`: COCO metrics (pycocotools), size and CPU latency of the Keras, float or
int8 detector on one split, and a few of its images with their true and predicted boxes.

The Keras model's boxes are decoded and NMS'd in numpy like the TFLite op, so its row of the
COCO table compares with the exported models' rows; its latency is TensorFlow's, theirs
LiteRT's.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from tpulens.runners.cache import timing_lock
from tpulens.runners.detection import anchors, coco_eval, model, splits
from tpulens.runners.detection.coco_eval import Detection
from tpulens.runners.detection.datasets import DetectionSet
from tpulens.runners.stages import StepResult
from tpulens.runners.stages.evaluate import kept_samples

EXAMPLE_MAX_SIDE = 320  # pixels of the longest side of a recorded example image
EXAMPLE_MIN_SCORE = 0.25  # predictions recorded with an example image
EXAMPLE_MAX_BOXES = 10


def run(config: dict, inputs: dict, out_dir: Path, ctx) -> StepResult:
    test = splits.read(inputs["dataset"]["outputs"]["splits"], config["eval_split"])
    if "tflite" in inputs:
        path = Path(inputs["tflite"]["outputs"]["tflite"])
        with timing_lock(ctx.cache_dir):  # the timing runs after the predictions
            predictions, times = tflite_predictions(path, test, config)
        size, runtime = path.stat().st_size, "LiteRT CPU"
    else:
        model_dir = Path(inputs["model"]["outputs"]["model"])
        with timing_lock(ctx.cache_dir):
            predictions, times = keras_predictions(model_dir, test, config)
        size, runtime = (model_dir / "weights.h5").stat().st_size, "TensorFlow CPU, Keras model"
    metrics = coco_eval.coco_metrics(test, predictions)
    metrics.update(latency_ms_p50=float(np.percentile(times, 50)),
                   latency_ms_p90=float(np.percentile(times, 90)), size_bytes=size)
    notes = [f"latency: {runtime}, {config['threads']} thread(s), {len(times)} runs",
             f"COCO metrics on {len(test.samples)} '{config['eval_split']}' images "
             f"({sum(len(s.boxes) for s in test.samples)} boxes)"]
    empty = [name for name in ("APs", "APm", "APl") if metrics[f"coco_{name}"] == -1]
    if empty:
        notes.append(f"{', '.join(empty)} = -1: no test object in that COCO size range")
    info = {name: {"description": f"{runtime}, {config['threads']} thread(s)"}
            for name in ("latency_ms_p50", "latency_ms_p90")}  # the rest: tpulens.metrics
    outputs = {}
    if config["example_images"]:
        outputs["examples"] = str(write_examples(test, predictions, config["example_images"],
                                                 out_dir / "examples"))
    return StepResult(outputs=outputs, metrics=metrics, metric_info=info, notes=notes,
                      info={"samples": {"latency_ms": kept_samples(times)}})


def tflite_predictions(path: Path, test: DetectionSet, config: dict):
    from tpulens.runners.detection.tflite_detector import TFLiteDetector

    detector = TFLiteDetector(path, config["threads"], tuple(config["float_range"]))
    predictions, first = [], None
    for sample in test.samples:
        image = read_rgb(sample.image_path)
        first = image if first is None else first
        found = detector.detect(image)
        predictions.append(to_detections(found.boxes, found.classes, found.scores, sample,
                                         test.classes))
    return predictions, detector.latency_ms(first, config["latency_runs"])


def keras_predictions(model_dir: Path, test: DetectionSet, config: dict):
    from tpulens.runners.tfsetup import import_tf

    tf = import_tf()
    detector, spec, _ = model.load(model_dir)
    anchor_boxes = anchors.make_anchors(spec.image_size, spec.anchors)
    images, _ = splits.as_arrays(test, spec.image_size)
    infer = tf.function(lambda x: detector(x, training=False))
    predictions = []
    for image, sample in zip(images, test.samples, strict=True):
        box_encodings, logits = (t.numpy()[0] for t in infer(image[None].astype(np.float32)))
        boxes, classes, best = anchors.nms_detections(box_encodings, 1 / (1 + np.exp(-logits)),
                                                      anchor_boxes, config["score_threshold"])
        predictions.append(to_detections(boxes, classes, best, sample, test.classes))
    tensor = tf.constant(images[:1].astype(np.float32))
    for _ in range(3):
        infer(tensor)
    times = []
    for _ in range(config["latency_runs"]):
        start = time.perf_counter()
        infer(tensor)
        times.append((time.perf_counter() - start) * 1000)
    return predictions, times


def to_detections(boxes, classes, scores, sample, names) -> list[Detection]:
    """Normalized (ymin, xmin, ymax, xmax) model boxes -> pixel detections of the sample."""
    found = []
    for (ymin, xmin, ymax, xmax), index, score in zip(boxes, classes, scores, strict=True):
        if 0 <= index < len(names):
            found.append(Detection(names[int(index)], float(score),
                                   float(np.clip(xmin, 0, 1) * sample.width),
                                   float(np.clip(ymin, 0, 1) * sample.height),
                                   float(np.clip(xmax, 0, 1) * sample.width),
                                   float(np.clip(ymax, 0, 1) * sample.height)))
    return found


def read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def write_examples(test: DetectionSet, predictions: list, count: int, folder: Path) -> Path:
    """The first `count` images of the split, at most EXAMPLE_MAX_SIDE px, as JPEG files, and
    `examples.json` with their true and predicted boxes in the pixels of those files."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    images = []
    for number, (sample, found) in enumerate(zip(test.samples, predictions, strict=True)):
        if number == count:
            break
        scale = min(1.0, EXAMPLE_MAX_SIDE / max(sample.width, sample.height))
        width, height = round(sample.width * scale), round(sample.height * scale)
        with Image.open(sample.image_path) as image:
            image.convert("RGB").resize((width, height)).save(folder / f"{number}.jpg",
                                                              quality=85)
        shown = sorted((d for d in found if d.score >= EXAMPLE_MIN_SCORE),
                       key=lambda d: -d.score)[:EXAMPLE_MAX_BOXES]
        images.append({"file": f"{number}.jpg", "source": Path(sample.image_path).name,
                       "width": width, "height": height,
                       "ground_truth": [{"label": b.label, "box": _scaled(b, scale)}
                                        for b in sample.boxes],
                       "predictions": [{"label": d.label, "score": round(d.score, 3),
                                        "box": _scaled(d, scale)} for d in shown]})
    path = folder / "examples.json"
    path.write_text(json.dumps({"classes": list(test.classes), "min_score": EXAMPLE_MIN_SCORE,
                                "images": images}, indent=1))
    return path


def _scaled(box, scale: float) -> list[float]:
    """[xmin, ymin, xmax, ymax] of a box or detection in the pixels of the example image."""
    return [round(v * scale, 1) for v in (box.xmin, box.ymin, box.xmax, box.ymax)]
