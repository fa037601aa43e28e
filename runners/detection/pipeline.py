"""The detection experiment, one variant at a time, sharing cached steps between variants:
dataset (generated once) -> model (trained once) -> export (float / int8, once each) ->
COCO evaluation + size + CPU latency of the variant asked for."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tpulens.runners.detection import (
    anchors,
    coco_eval,
    datasets,
    export,
    model,
    settings,
    store,
    synth,
)
from tpulens.runners.detection.coco_eval import Detection
from tpulens.runners.detection.datasets import DetectionSet

from tpulens.errors import InputError

# ---------------------------------------------------------------- data


def dataset_source(cfg: settings.Settings, cache: Path) -> tuple[Path, str]:
    """(path, cache key) of the data: the user's dataset, or the generated set (built once)."""
    if cfg.dataset:
        path = Path(cfg.dataset).resolve()
        images_dir = Path(cfg.images_dir) if cfg.images_dir else None
        key = [store.path_fingerprint(path), images_dir and store.path_fingerprint(images_dir)]
        return path, store.content_key(key)
    recipe = {
        "images": cfg.images,
        "image_size": cfg.image_size,
        "classes": cfg.classes,
        "seed": cfg.seed,
        "code": store.source_key(synth, datasets),
    }
    key = store.content_key(recipe)
    path, _ = store.cached_dir(
        cache / f"data-{key}",
        lambda tmp: synth.generate(tmp, cfg.images, cfg.image_size, cfg.classes, cfg.seed),
    )
    return path, key


def load_split(cfg: settings.Settings, path: Path, split: str) -> DetectionSet:
    """A VOC directory's own ImageSets/Main/<split>.txt when it has one; otherwise a seeded
    110/20/20-proportioned split of everything ('all' = every image)."""
    images_dir = Path(cfg.images_dir) if cfg.images_dir else None
    if split != "all" and (path / "ImageSets" / "Main" / f"{split}.txt").is_file():
        found = datasets.load_voc(path, images_dir, split)
        return datasets.make_set(list(found.samples), cfg.labels or _classes(cfg, path))
    everything = datasets.load_any(path, images_dir)
    classes = cfg.labels or everything.classes
    if split == "all":
        return datasets.make_set(list(everything.samples), classes)
    order = np.random.default_rng(cfg.seed).permutation(len(everything.samples))
    train, val, _ = synth.split_sizes(len(order))
    bounds = {"train": (0, train), "val": (train, train + val), "test": (train + val, len(order))}
    if split not in bounds:
        raise InputError(f"eval_split: '{split}' is not train, val, test or all")
    first, last = bounds[split]
    return datasets.make_set([everything.samples[i] for i in order[first:last]], classes)


def _classes(cfg: settings.Settings, path: Path) -> tuple[str, ...]:
    """Class order of the model: the generated set's, or every class of the user's dataset."""
    if not cfg.dataset:
        return tuple(sorted(cfg.classes))
    return datasets.load_any(path, Path(cfg.images_dir) if cfg.images_dir else None).classes


def as_arrays(dataset: DetectionSet, size: int):
    """uint8 images resized to size x size, and per image (normalized corner boxes, labels)."""
    from PIL import Image

    images, annotations = [], []
    for sample in dataset.samples:
        with Image.open(sample.image_path) as image:
            images.append(np.asarray(image.convert("RGB").resize((size, size))))
        boxes = np.array(
            [
                [
                    b.ymin / sample.height,
                    b.xmin / sample.width,
                    b.ymax / sample.height,
                    b.xmax / sample.width,
                ]
                for b in sample.boxes
            ],
            np.float32,
        ).reshape(-1, 4)
        labels = np.array([dataset.classes.index(b.label) for b in sample.boxes], np.int64)
        annotations.append((boxes, labels))
    return np.stack(images), annotations


# ---------------------------------------------------------------- model


def model_spec(cfg: settings.Settings, classes: tuple[str, ...]) -> model.ModelSpec:
    return model.ModelSpec(image_size=cfg.image_size, num_classes=len(classes))


def trained_model(cfg: settings.Settings, cache: Path, data: Path, data_key: str):
    """(model dir with weights.h5 + train.json, trained now?): one training per recipe."""
    recipe = {
        "data": data_key,
        "epochs": cfg.epochs,
        "batch": cfg.batch_size,
        "lr": cfg.learning_rate,
        "seed": cfg.seed,
        "size": cfg.image_size,
        "labels": cfg.labels,
        "code": store.source_key(model, anchors),
    }
    key = store.content_key(recipe)

    def build(tmp: Path) -> None:
        train_set = load_split(cfg, data, "train")
        spec = model_spec(cfg, train_set.classes)
        images, annotations = as_arrays(train_set, cfg.image_size)
        detector = model.build_detector(spec, cfg.seed)
        log = model.train(
            detector,
            anchors.make_anchors(cfg.image_size, spec.anchors),
            images,
            annotations,
            spec.num_classes,
            cfg.epochs,
            cfg.batch_size,
            cfg.seed,
            cfg.learning_rate,
        )
        detector.save_weights(tmp / "weights.h5")
        info = {
            "seconds": log.seconds,
            "losses": log.losses,
            "epochs": cfg.epochs,
            "train_images": len(images),
            "classes": list(train_set.classes),
            "spec": asdict(spec),
        }
        (tmp / "train.json").write_text(json.dumps(info, indent=1))

    return store.cached_dir(cache / f"model-{key}", build)


def load_model(model_dir: Path):
    info = json.loads((model_dir / "train.json").read_text())
    spec_dict = dict(info["spec"])
    spec_dict["anchors"] = anchors.AnchorSpec(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in spec_dict["anchors"].items()}
    )
    spec = model.ModelSpec(**spec_dict)
    detector = model.build_detector(spec)
    detector.load_weights(model_dir / "weights.h5")
    return detector, spec, tuple(info["classes"]), info


def exported(cfg: settings.Settings, model_dir: Path, data: Path, kind: str) -> tuple[Path, bool]:
    """model_dir/<kind>.tflite, converted once; int8 calibrates on training images."""

    def build(tmp: Path) -> None:
        detector, spec, _, _ = load_model(model_dir)
        calibration = ()
        if kind == "int8":
            train_set = load_split(cfg, data, "train")
            calibration, _ = as_arrays(train_set, cfg.image_size)
            calibration = calibration[: cfg.calibration_images]
        tmp.write_bytes(
            export.convert(
                detector,
                anchors.make_anchors(spec.image_size, spec.anchors),
                spec.image_size,
                spec.num_classes,
                kind,
                calibration,
            )
        )

    return store.cached_file(model_dir / f"{kind}.tflite", build)


# ---------------------------------------------------------------- evaluation


def to_detections(boxes, classes, scores, sample, names) -> list[Detection]:
    """Normalized (ymin, xmin, ymax, xmax) model boxes -> pixel detections of the sample."""
    found = []
    for (ymin, xmin, ymax, xmax), index, score in zip(boxes, classes, scores, strict=True):
        if 0 <= index < len(names):
            found.append(
                Detection(
                    names[int(index)],
                    float(score),
                    float(np.clip(xmin, 0, 1) * sample.width),
                    float(np.clip(ymin, 0, 1) * sample.height),
                    float(np.clip(xmax, 0, 1) * sample.width),
                    float(np.clip(ymax, 0, 1) * sample.height),
                )
            )
    return found


def evaluate_tflite(cfg: settings.Settings, path: Path, test: DetectionSet, names) -> dict:
    from tpulens.runners.detection.tflite_detector import TFLiteDetector

    detector = TFLiteDetector(path, cfg.threads, cfg.float_range)
    predictions, images = [], []
    for sample in test.samples:
        images.append(read_rgb(sample.image_path))
        found = detector.detect(images[-1])
        predictions.append(to_detections(found.boxes, found.classes, found.scores, sample, names))
    metrics = coco_eval.coco_metrics(test, predictions)
    times = detector.latency_ms(images[0], cfg.latency_runs)
    metrics.update(latency_metrics(times))
    metrics["size_bytes"] = path.stat().st_size
    return metrics


def evaluate_keras(cfg: settings.Settings, model_dir: Path, test: DetectionSet) -> dict:
    import tensorflow as tf

    detector, spec, names, _ = load_model(model_dir)
    anchor_boxes = anchors.make_anchors(spec.image_size, spec.anchors)
    images, _ = as_arrays(test, spec.image_size)
    infer = tf.function(lambda x: detector(x, training=False))
    predictions = []
    for image, sample in zip(images, test.samples, strict=True):
        box_encodings, logits = (t.numpy()[0] for t in infer(image[None].astype(np.float32)))
        scores = 1 / (1 + np.exp(-logits))
        boxes, classes, best = anchors.nms_detections(
            box_encodings, scores, anchor_boxes, cfg.score_threshold
        )
        predictions.append(to_detections(boxes, classes, best, sample, names))
    metrics = coco_eval.coco_metrics(test, predictions)
    tensor = tf.constant(images[:1].astype(np.float32))
    for _ in range(3):
        infer(tensor)
    times = []
    for _ in range(cfg.latency_runs):
        start = time.perf_counter()
        infer(tensor)
        times.append((time.perf_counter() - start) * 1000)
    metrics.update(latency_metrics(times))
    metrics["size_bytes"] = (model_dir / "weights.h5").stat().st_size
    return metrics


def read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def latency_metrics(times: list[float]) -> dict:
    return {
        "latency_ms_p50": float(np.percentile(times, 50)),
        "latency_ms_p90": float(np.percentile(times, 90)),
    }


def run(params: dict, cache_dir: Path, profile: str) -> dict:
    cfg = settings.resolve(params, profile)
    cache = Path(cache_dir)
    notes: list[str] = []
    timings: dict[str, float] = {}
    start = time.perf_counter()
    data, data_key = dataset_source(cfg, cache)
    timings["data"] = time.perf_counter() - start
    artifacts: dict = {"dataset": str(data)}
    if cfg.tflite:
        test = load_split(cfg, data, cfg.eval_split)
        names = cfg.labels or test.classes
        tflite_path = Path(cfg.tflite).resolve()
        notes.append(
            f"bring-your-own detector {tflite_path.name}; class index i = {list(names)}[i]"
        )
    else:
        start = time.perf_counter()
        model_dir, trained_now = trained_model(cfg, cache, data, data_key)
        timings["train"] = time.perf_counter() - start
        info = json.loads((model_dir / "train.json").read_text())
        names = tuple(info["classes"])
        test = load_split(cfg, data, cfg.eval_split)
        notes.append(
            f"SSD MobileNetV2-0.35 + FPN, {cfg.image_size}px, trained from scratch "
            f"{info['epochs']} epochs on {info['train_images']} images in {info['seconds']:.0f} s"
            f" (loss {info['losses'][0]:.2f} -> {info['losses'][-1]:.2f})"
            + ("" if trained_now else "; model reused from cache")
        )
        artifacts["weights"] = str(model_dir / "weights.h5")
        tflite_path = None
        if cfg.export != "keras":
            start = time.perf_counter()
            tflite_path, _ = exported(cfg, model_dir, data, cfg.export)
            timings["export"] = time.perf_counter() - start
    start = time.perf_counter()
    if tflite_path is None:
        metrics = evaluate_keras(cfg, model_dir, test)
        notes.append(
            f"Keras model; boxes decoded and NMS'd in numpy like the TFLite op; "
            f"latency: TensorFlow CPU, batch 1, {cfg.latency_runs} runs"
        )
    else:
        metrics = evaluate_tflite(cfg, tflite_path, test, names)
        notes.append(f"latency: LiteRT CPU, {cfg.threads} thread(s), {cfg.latency_runs} runs")
    timings["evaluate"] = time.perf_counter() - start
    notes.append(
        f"COCO metrics on {len(test.samples)} '{cfg.eval_split}' images "
        f"({sum(len(s.boxes) for s in test.samples)} boxes)"
    )
    empty = [name for name in ("APs", "APm", "APl") if metrics[f"coco_{name}"] == -1]
    if empty:
        notes.append(f"{', '.join(empty)} = -1: no test object in that COCO size range")
    artifacts["tflite"] = str(tflite_path) if tflite_path else None
    info = coco_eval.metric_info(tuple(names))
    info["size_bytes"] = {"unit": "bytes", "better": "lower", "source": "measured"}
    for name in ("latency_ms_p50", "latency_ms_p90"):
        info[name] = {"unit": "ms", "better": "lower", "source": "measured"}
    return {
        "metrics": metrics,
        "metric_info": info,
        "artifacts": artifacts,
        "notes": notes,
        "timings": timings,
    }
