"""COCO metrics through pycocotools on cases computed by hand, and the box coding they rely on."""

from pathlib import Path

import numpy as np
import pytest

from tpulens.runners.detection import anchors
from tpulens.runners.detection.coco_eval import STAT_NAMES, Detection, coco_metrics
from tpulens.runners.detection.datasets import Box, DetectionSet, Sample


def one_image(*boxes, classes=("car", "truck")):
    return DetectionSet((Sample(Path("a.jpg"), 200, 200, tuple(boxes)),), classes)


def found(box, score=0.9, label=None):
    return Detection(label or box.label, score, box.xmin, box.ymin, box.xmax, box.ymax)


def test_perfect_predictions_score_one_and_size_ranges_follow_coco():
    small, medium = Box("car", 10, 10, 30, 30), Box("truck", 60, 60, 150, 140)  # 400, 7200 px²
    metrics = coco_metrics(one_image(small, medium), [[found(small), found(medium, 0.8)]])
    for name in ("AP", "AP50", "AP75", "APs", "APm", "ARmax10", "ARmax100", "ARs", "ARm"):
        assert metrics[f"coco_{name}"] == pytest.approx(1.0)
    assert metrics["coco_APl"] == -1 and metrics["coco_ARl"] == -1  # no large object
    assert metrics["coco_ARmax1"] == pytest.approx(1.0)  # one object per class
    assert metrics["coco_AP_car"] == pytest.approx(1.0)
    assert metrics["coco_AP_truck"] == pytest.approx(1.0)
    assert set(metrics) == {f"coco_{n}" for n in STAT_NAMES} | {"coco_AP_car", "coco_AP_truck"}


def test_one_of_two_boxes_found():
    """Precision 1 up to recall 0.5, then nothing: 51 of COCO's 101 recall points -> 51/101."""
    first, second = Box("car", 10, 10, 60, 60), Box("car", 100, 100, 160, 170)
    metrics = coco_metrics(one_image(first, second, classes=("car",)), [[found(first)]])
    assert metrics["coco_AP"] == pytest.approx(51 / 101)
    assert metrics["coco_AP50"] == pytest.approx(51 / 101)
    assert metrics["coco_ARmax100"] == pytest.approx(0.5)
    assert metrics["coco_AP_car"] == pytest.approx(51 / 101)


def test_false_positive_ranked_first_halves_precision():
    """A wrong box scored above the right one: precision 1/2 at recall 1 -> AP 0.5."""
    truth = Box("car", 10, 10, 60, 60)
    wrong = Detection("car", 0.95, 120, 120, 180, 180)
    metrics = coco_metrics(one_image(truth, classes=("car",)), [[wrong, found(truth, 0.5)]])
    assert metrics["coco_AP"] == pytest.approx(0.5)


def test_box_shifted_to_iou_0_575_counts_only_at_low_thresholds():
    """IoU 73/127 = 0.575 matches at thresholds .50 and .55 of ten: AP 0.2, AP50 1, AP75 0."""
    truth = Box("car", 0, 0, 100, 100)
    shifted = Detection("car", 0.9, 27, 0, 127, 100)
    metrics = coco_metrics(one_image(truth, classes=("car",)), [[shifted]])
    assert metrics["coco_AP50"] == pytest.approx(1.0)
    assert metrics["coco_AP75"] == pytest.approx(0.0)
    assert metrics["coco_AP"] == pytest.approx(0.2)


def test_wrong_class_and_no_detections():
    truth = Box("car", 10, 10, 60, 60)
    assert coco_metrics(one_image(truth), [[found(truth, label="truck")]])["coco_AP_car"] == 0
    empty = coco_metrics(one_image(truth), [[]])
    assert empty["coco_AP"] == 0 and empty["coco_AP_car"] == 0


def test_box_coding_roundtrip_and_assignment():
    anchor_boxes = anchors.make_anchors(128)
    # 16x16, 8x8, 4x4 cells, 6 anchors each
    assert anchor_boxes.shape == ((16 * 16 + 8 * 8 + 4 * 4) * 6, 4)
    boxes = np.array([[0.1, 0.2, 0.4, 0.3], [0.5, 0.5, 0.95, 0.9]], np.float32)
    classes, targets, weights = anchors.assign(boxes, np.array([1, 0]), anchor_boxes, 2)
    positive = weights == 1
    assert positive.sum() >= 2
    decoded = anchors.decode(targets[positive], anchor_boxes[positive])
    owner = anchors.iou_matrix(decoded, boxes).argmax(axis=1)
    np.testing.assert_allclose(decoded, boxes[owner], atol=1e-5)
    assert (classes[positive].argmax(axis=1) == np.array([1, 0])[owner]).all()
    assert classes[~positive].sum() == 0


def test_fast_nms_keeps_best_of_overlapping_boxes():
    anchor_boxes = np.array([[0.5, 0.5, 0.2, 0.2]] * 3, np.float32)
    encodings = np.zeros((3, 4), np.float32)
    encodings[2, 1] = 10.0  # shifted right by one anchor width: no overlap with the others
    scores = np.array([[0.3, 0.1], [0.2, 0.9], [0.6, 0.05]], np.float32)
    boxes, classes, best = anchors.nms_detections(encodings, scores, anchor_boxes)
    np.testing.assert_allclose(best, [0.9, 0.6])
    assert classes.tolist() == [1, 0]
    np.testing.assert_allclose(boxes[1], [0.4, 0.6, 0.6, 0.8], atol=1e-6)
