"""The train / val / test / all splits of a detection dataset, written once by the dataset
step as one JSON file that the training, export and evaluation steps read.

A VOC directory's own `ImageSets/Main/<split>.txt` is used when it has one; otherwise the
images are split by a seeded permutation in the study's 110/20/20 proportions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tpulens.runners.detection import datasets, synth
from tpulens.runners.detection.datasets import Box, DetectionSet, Sample

SPLIT_NAMES = ("train", "val", "test")


def split(path: Path, images_dir: Path | None, seed: int,
          labels: tuple[str, ...] | None) -> dict[str, DetectionSet]:
    """Every split of the dataset at `path`, with `labels` (default: the sorted class names
    found) as the class order of the model."""
    everything = datasets.load_any(path, images_dir)
    classes = labels or everything.classes
    order = np.random.default_rng(seed).permutation(len(everything.samples))
    train, val, _ = synth.split_sizes(len(order))
    bounds = {"train": (0, train), "val": (train, train + val), "test": (train + val, len(order))}
    out = {"all": datasets.make_set(list(everything.samples), classes)}
    for name in SPLIT_NAMES:
        if (Path(path) / "ImageSets" / "Main" / f"{name}.txt").is_file():
            samples = datasets.load_voc(path, images_dir, name).samples
        else:
            first, last = bounds[name]
            samples = [everything.samples[i] for i in order[first:last]]
        out[name] = datasets.make_set(list(samples), classes)
    return out


def write(splits: dict[str, DetectionSet], path: Path) -> None:
    classes = next(iter(splits.values())).classes
    data = {"classes": list(classes),
            "splits": {name: [_sample_json(s) for s in found.samples]
                       for name, found in splits.items()}}
    path.write_text(json.dumps(data))


def read(path: Path, name: str) -> DetectionSet:
    data = json.loads(Path(path).read_text())
    samples = [Sample(Path(s["image"]), s["width"], s["height"],
                      tuple(Box(*box) for box in s["boxes"])) for s in data["splits"][name]]
    return DetectionSet(tuple(samples), tuple(data["classes"]))


def as_arrays(dataset: DetectionSet, size: int):
    """uint8 images resized to size x size, and per image (normalized corner boxes, labels)."""
    from PIL import Image

    images, annotations = [], []
    for sample in dataset.samples:
        with Image.open(sample.image_path) as image:
            images.append(np.asarray(image.convert("RGB").resize((size, size))))
        boxes = np.array([[b.ymin / sample.height, b.xmin / sample.width,
                           b.ymax / sample.height, b.xmax / sample.width]
                          for b in sample.boxes], np.float32).reshape(-1, 4)
        labels = np.array([dataset.classes.index(b.label) for b in sample.boxes], np.int64)
        annotations.append((boxes, labels))
    return np.stack(images), annotations


def _sample_json(sample: Sample) -> dict:
    return {"image": str(Path(sample.image_path).resolve()), "width": sample.width,
            "height": sample.height,
            "boxes": [[b.label, b.xmin, b.ymin, b.xmax, b.ymax] for b in sample.boxes]}
