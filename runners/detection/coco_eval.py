"""COCO detection metrics with pycocotools, the same table TFLite Model Maker reports.

`coco_metrics` names them `coco_AP`, `coco_AP50`, ... `coco_ARl` (COCOeval's 12 stats, -1 where
an area range has no ground truth) and `coco_AP_<class>` (AP over IoU .50:.95 for one class).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np

from tpulens.runners.detection.datasets import DetectionSet

STAT_NAMES = (
    "AP",
    "AP50",
    "AP75",
    "APs",
    "APm",
    "APl",
    "ARmax1",
    "ARmax10",
    "ARmax100",
    "ARs",
    "ARm",
    "ARl",
)


@dataclass(frozen=True)
class Detection:
    """One predicted box in absolute pixels of its image."""

    label: str
    score: float
    xmin: float
    ymin: float
    xmax: float
    ymax: float


def ground_truth(dataset: DetectionSet) -> dict:
    """The dataset as a COCO ground-truth dict (category id = class index + 1)."""
    category = {name: index + 1 for index, name in enumerate(dataset.classes)}
    images, annotations = [], []
    for image_id, sample in enumerate(dataset.samples, start=1):
        images.append(
            {
                "id": image_id,
                "width": sample.width,
                "height": sample.height,
                "file_name": sample.image_path.name,
            }
        )
        for box in sample.boxes:
            width, height = box.xmax - box.xmin, box.ymax - box.ymin
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category[box.label],
                    "iscrowd": 0,
                    "area": width * height,
                    "bbox": [box.xmin, box.ymin, width, height],
                }
            )
    categories = [{"id": i, "name": name} for name, i in category.items()]
    return {"images": images, "annotations": annotations, "categories": categories}


def coco_metrics(dataset: DetectionSet, predictions: list[list[Detection]]) -> dict[str, float]:
    """COCOeval's 12 summary stats plus per-class AP; predictions[i] belongs to sample i."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if len(predictions) != len(dataset.samples):
        raise ValueError(f"{len(predictions)} prediction lists for {len(dataset.samples)} images")
    category = {name: index + 1 for index, name in enumerate(dataset.classes)}
    results = [
        {
            "image_id": image_id,
            "category_id": category[d.label],
            "score": float(d.score),
            "bbox": [d.xmin, d.ymin, d.xmax - d.xmin, d.ymax - d.ymin],
        }
        for image_id, detections in enumerate(predictions, start=1)
        for d in detections
        if d.label in category
    ]
    if not results:  # COCO.loadRes refuses an empty list; nothing found means AP 0
        metrics = {f"coco_{name}": 0.0 for name in STAT_NAMES}
        metrics.update({f"coco_AP_{name}": 0.0 for name in dataset.classes})
        return metrics
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = ground_truth(dataset)
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    metrics = {
        f"coco_{name}": float(value)
        for name, value in zip(STAT_NAMES, evaluation.stats, strict=True)
    }
    # precision: [IoU thresholds, recall points, classes, area ranges, max dets]
    precision = evaluation.eval["precision"]
    for index, name in enumerate(dataset.classes):
        values = precision[:, :, index, 0, -1]
        values = values[values > -1]
        metrics[f"coco_AP_{name}"] = float(np.mean(values)) if values.size else -1.0
    return metrics
