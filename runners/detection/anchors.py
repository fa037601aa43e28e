"""SSD anchors, target assignment and box coding in the exact convention of TFLite's
`TFLite_Detection_PostProcess` op, so the Keras model, its training targets and the exported
op decode boxes identically.

Anchors are normalized (ycenter, xcenter, h, w); box encodings are
(ty, tx, th, tw) = (Y * dy / ha, X * dx / wa, H * log(h / ha), W * log(w / wa)) with the
scales below; decoded boxes are normalized (ymin, xmin, ymax, xmax).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOX_SCALES = (10.0, 10.0, 5.0, 5.0)  # y_scale, x_scale, h_scale, w_scale of the TFLite op


@dataclass(frozen=True)
class AnchorSpec:
    """Anchor layout: one grid per stride, `scales` x `ratios` anchors per cell, base size
    `size_factor * stride` pixels."""

    strides: tuple[int, ...] = (8, 16, 32)
    scales: tuple[float, ...] = (1.0, 2**0.5)
    ratios: tuple[float, ...] = (0.5, 1.0, 2.0)  # height / width
    size_factor: float = 3.0

    @property
    def per_cell(self) -> int:
        return len(self.scales) * len(self.ratios)


def make_anchors(image_size: int, spec: AnchorSpec = AnchorSpec()) -> np.ndarray:
    """All anchors in the order the model's heads emit them: level, row, column, anchor."""
    levels = []
    for stride in spec.strides:
        cells = -(-image_size // stride)
        centers = (np.arange(cells) + 0.5) * stride / image_size
        cy, cx = np.meshgrid(centers, centers, indexing="ij")
        shapes = []
        for scale in spec.scales:
            for ratio in spec.ratios:
                side = spec.size_factor * stride * scale / image_size
                shapes.append((side * np.sqrt(ratio), side / np.sqrt(ratio)))
        shapes = np.array(shapes)  # [A, 2] (h, w)
        grid = np.stack([cy, cx], axis=-1).reshape(-1, 1, 2)  # [cells^2, 1, 2]
        level = np.concatenate(
            [
                np.broadcast_to(grid, (grid.shape[0], len(shapes), 2)),
                np.broadcast_to(shapes, (grid.shape[0], len(shapes), 2)),
            ],
            axis=-1,
        )
        levels.append(level.reshape(-1, 4))
    return np.concatenate(levels).astype(np.float32)


def to_corners(center_boxes: np.ndarray) -> np.ndarray:
    yc, xc, h, w = np.moveaxis(center_boxes, -1, 0)
    return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=-1)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every corner box in a [N, 4] with every one in b [M, 4] -> [N, M]."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=-1)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=-1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9)


def encode(boxes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Corner boxes [N, 4] (normalized ymin, xmin, ymax, xmax) -> encodings against anchors."""
    h, w = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    yc, xc = boxes[:, 0] + h / 2, boxes[:, 1] + w / 2
    ay, ax, ah, aw = anchors.T
    sy, sx, sh, sw = BOX_SCALES
    return np.stack(
        [sy * (yc - ay) / ah, sx * (xc - ax) / aw, sh * np.log(h / ah), sw * np.log(w / aw)],
        axis=-1,
    ).astype(np.float32)


def decode(encodings: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """The inverse of `encode`: what TFLite_Detection_PostProcess computes."""
    sy, sx, sh, sw = BOX_SCALES
    ay, ax, ah, aw = anchors.T
    yc = encodings[:, 0] / sy * ah + ay
    xc = encodings[:, 1] / sx * aw + ax
    h = np.exp(encodings[:, 2] / sh) * ah
    w = np.exp(encodings[:, 3] / sw) * aw
    return to_corners(np.stack([yc, xc, h, w], axis=-1))


def assign(
    boxes: np.ndarray,
    labels: np.ndarray,
    anchors: np.ndarray,
    num_classes: int,
    positive_iou: float = 0.5,
    negative_iou: float = 0.4,
):
    """Training targets for one image: (class targets [N, K] one-hot, box targets [N, 4],
    weights [N] with 1 = positive, 0 = negative, -1 = ignored). Every box also claims its
    best anchor, so small objects always get a positive."""
    count = len(anchors)
    class_targets = np.zeros((count, num_classes), np.float32)
    box_targets = np.zeros((count, 4), np.float32)
    weights = np.zeros(count, np.float32)
    if len(boxes) == 0:
        return class_targets, box_targets, weights
    overlaps = iou_matrix(to_corners(anchors), boxes)
    best_box = overlaps.argmax(axis=1)
    best_iou = overlaps.max(axis=1)
    weights[best_iou >= negative_iou] = -1
    weights[best_iou >= positive_iou] = 1
    best_anchor = overlaps.argmax(axis=0)
    best_box[best_anchor] = np.arange(len(boxes))
    weights[best_anchor] = 1
    positive = weights == 1
    class_targets[positive, labels[best_box[positive]]] = 1
    box_targets[positive] = encode(boxes[best_box[positive]], anchors[positive])
    return class_targets, box_targets, weights


def nms_detections(
    encodings: np.ndarray,
    scores: np.ndarray,
    anchors: np.ndarray,
    score_threshold: float = 0.01,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
):
    """Class-agnostic ("fast") NMS with one class per box, as the TFLite op's default mode.
    Returns (corner boxes [D, 4], classes [D], scores [D]), best first."""
    best_class = scores.argmax(axis=1)
    best_score = scores.max(axis=1)
    keep = np.nonzero(best_score >= score_threshold)[0]
    keep = keep[np.argsort(-best_score[keep], kind="stable")]
    boxes = decode(encodings[keep], anchors[keep])
    chosen: list[int] = []
    for i in range(len(keep)):
        if len(chosen) == max_detections:
            break
        if chosen and iou_matrix(boxes[i : i + 1], boxes[chosen]).max() > iou_threshold:
            continue
        chosen.append(i)
    return boxes[chosen], best_class[keep[chosen]], best_score[keep[chosen]]
