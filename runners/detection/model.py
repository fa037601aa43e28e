"""An SSD-style detector in tf_keras: MobileNetV2 backbone (weights=None), a small feature
pyramid, shared class and box heads, focal + Huber losses, trained on CPU in minutes.

tf_keras (not Keras 3) because TFLiteConverter freezes its variables, which Keras 3 models
traced inside a tf.Module do not get (the converter leaves READ_VARIABLE ops behind).
TensorFlow is imported inside functions so planning a run never loads it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tpulens.runners.detection.anchors import AnchorSpec, assign


@dataclass(frozen=True)
class ModelSpec:
    image_size: int = 128
    num_classes: int = 2
    alpha: float = 0.35  # MobileNetV2 width multiplier
    fpn_channels: int = 64
    head_layers: int = 2
    anchors: AnchorSpec = AnchorSpec()


BACKBONE_TAPS = ("block_6_expand_relu", "block_13_expand_relu", "out_relu")  # strides 8, 16, 32


def build_detector(spec: ModelSpec, seed: int | None = None):
    """Image (float pixels 0..255) -> (box encodings [N, 4], class logits [N, K]); with a seed,
    the initial weights (and TensorFlow's later random ops) are reproducible."""
    import tf_keras as keras

    if seed is not None:
        keras.utils.set_random_seed(seed)

    layers = keras.layers
    image = keras.Input((spec.image_size, spec.image_size, 3), name="image")
    scaled = layers.Rescaling(1 / 127.5, offset=-1, name="normalize")(image)
    backbone = keras.applications.MobileNetV2(
        input_tensor=scaled, alpha=spec.alpha, include_top=False, weights=None
    )
    taps = [backbone.get_layer(name).output for name in BACKBONE_TAPS]

    def conv_bn(x, channels, name, kernel=3):
        x = layers.SeparableConv2D(channels, kernel, padding="same", use_bias=False, name=name)(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.ReLU(6.0, name=f"{name}_relu")(x)

    # Top-down feature pyramid: 1x1 laterals, nearest upsampling, add, 3x3 smoothing.
    laterals = [
        layers.Conv2D(spec.fpn_channels, 1, name=f"fpn_lateral{i}")(tap)
        for i, tap in enumerate(taps)
    ]
    pyramid = [laterals[-1]]
    for i in range(len(laterals) - 2, -1, -1):
        upsampled = layers.UpSampling2D(name=f"fpn_up{i}")(pyramid[0])
        pyramid.insert(0, layers.Add(name=f"fpn_add{i}")([laterals[i], upsampled]))
    pyramid = [conv_bn(p, spec.fpn_channels, f"fpn_smooth{i}") for i, p in enumerate(pyramid)]

    per_cell = spec.anchors.per_cell
    prior = -np.log((1 - 0.01) / 0.01)
    class_tower = [
        layers.SeparableConv2D(
            spec.fpn_channels, 3, padding="same", activation="relu6", name=f"class_tower{j}"
        )
        for j in range(spec.head_layers)
    ]
    box_tower = [
        layers.SeparableConv2D(
            spec.fpn_channels, 3, padding="same", activation="relu6", name=f"box_tower{j}"
        )
        for j in range(spec.head_layers)
    ]
    class_out = layers.Conv2D(
        per_cell * spec.num_classes,
        3,
        padding="same",
        name="class_logits",
        bias_initializer=keras.initializers.Constant(prior),
    )
    box_out = layers.Conv2D(per_cell * 4, 3, padding="same", name="box_encodings")
    classes, boxes = [], []
    for level, feature in enumerate(pyramid):
        c, b = feature, feature
        for tower_layer in class_tower:
            c = tower_layer(c)
        for tower_layer in box_tower:
            b = tower_layer(b)
        classes.append(
            layers.Reshape((-1, spec.num_classes), name=f"class_flat{level}")(class_out(c))
        )
        boxes.append(layers.Reshape((-1, 4), name=f"box_flat{level}")(box_out(b)))
    box_encodings = layers.Concatenate(axis=1, name="boxes")(boxes)
    class_logits = layers.Concatenate(axis=1, name="classes")(classes)
    detector = keras.Model(image, [box_encodings, class_logits], name="ssd_mobilenetv2_fpn")
    # MobileNetV2's BN momentum (0.999) needs thousands of steps before its moving statistics
    # match the weights; a few hundred steps of training need a faster average.
    for layer in detector.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = 0.9
    return detector


def targets_for(images_boxes, anchors: np.ndarray, num_classes: int):
    """Stacked training targets for a list of (corner boxes normalized, label indices)."""
    parts = [assign(boxes, labels, anchors, num_classes) for boxes, labels in images_boxes]
    return tuple(np.stack(column) for column in zip(*parts, strict=True))


def augment(rng, image: np.ndarray, boxes: np.ndarray, labels: np.ndarray):
    """Random zoom in/out (scale jitter), flips and colour jitter. Boxes are normalized
    (ymin, xmin, ymax, xmax); a box less than half inside the new view is dropped."""
    from PIL import Image

    size = image.shape[0]
    crop = size / rng.uniform(0.75, 1.35)  # > 1 zooms in
    y0, x0 = rng.uniform(min(0.0, size - crop), max(0.0, size - crop), 2)
    fill = tuple(int(v) for v in image.reshape(-1, 3).mean(axis=0))
    view = Image.fromarray(image).transform(
        (size, size), Image.EXTENT, (x0, y0, x0 + crop, y0 + crop), Image.BILINEAR, fillcolor=fill
    )
    image = np.asarray(view, np.float32)
    moved = (boxes * size - [y0, x0, y0, x0]) / crop
    clipped = np.clip(moved, 0, 1)
    area = np.prod(moved[:, 2:] - moved[:, :2], axis=1)
    kept = np.prod(clipped[:, 2:] - clipped[:, :2], axis=1) >= 0.5 * area
    boxes, labels = clipped[kept], labels[kept]
    if rng.random() < 0.5:
        image = image[:, ::-1]
        boxes[:, [1, 3]] = 1 - boxes[:, [3, 1]]
    if rng.random() < 0.5:
        image = image[::-1]
        boxes[:, [0, 2]] = 1 - boxes[:, [2, 0]]
    image = np.clip(image * rng.uniform(0.75, 1.25) + rng.uniform(-25, 25, 3), 0, 255)
    if rng.random() < 0.2:
        image = np.repeat(image.mean(axis=-1, keepdims=True), 3, axis=-1)
    return image, boxes, labels


@dataclass
class TrainLog:
    seconds: float
    losses: list[float]


def train(
    model,
    anchors,
    images,
    annotations,
    num_classes,
    epochs,
    batch_size=8,
    seed=0,
    learning_rate=3e-3,
) -> TrainLog:
    """Train in place with focal loss (alpha .25, gamma 1.5) + Huber box loss, both normalized
    by the positive-anchor count, Adam with warm-up and cosine decay.

    images: uint8 [B, S, S, 3]; annotations: per image (normalized corner boxes, label ids).
    """
    import tensorflow as tf
    import tf_keras as keras

    tf.random.set_seed(seed)
    rng = np.random.default_rng(seed)
    steps_per_epoch = max(1, -(-len(images) // batch_size))
    total = steps_per_epoch * epochs
    warmup = min(total // 10, 3 * steps_per_epoch) or 1
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate / 10,
        total - warmup,
        alpha=0.02,
        warmup_target=learning_rate,
        warmup_steps=warmup,
    )
    optimizer = keras.optimizers.Adam(schedule, clipnorm=10.0)

    @tf.function
    def step(batch, class_targets, box_targets, weights):
        with tf.GradientTape() as tape:
            box_pred, class_logits = model(batch, training=True)
            positive = tf.cast(weights > 0, tf.float32)
            counted = tf.cast(weights >= 0, tf.float32)
            normalizer = tf.maximum(tf.reduce_sum(positive), 1.0)
            probs = tf.sigmoid(class_logits)
            ce = tf.nn.sigmoid_cross_entropy_with_logits(class_targets, class_logits)
            p_t = class_targets * probs + (1 - class_targets) * (1 - probs)
            alpha_t = class_targets * 0.25 + (1 - class_targets) * 0.75
            focal = alpha_t * tf.pow(1 - p_t, 1.5) * ce
            class_loss = tf.reduce_sum(focal * counted[..., None]) / normalizer
            error = tf.abs(box_targets - box_pred)
            huber = tf.where(error < 1.0, 0.5 * error**2, error - 0.5)
            box_loss = tf.reduce_sum(huber * positive[..., None]) / normalizer
            loss = class_loss + box_loss + tf.add_n(model.losses or [tf.constant(0.0)])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    start = time.perf_counter()
    losses = []
    for _ in range(epochs):
        # Full batches only (the last one wraps around): one traced shape, no retracing.
        order = rng.permutation(len(images))
        order = np.resize(order, steps_per_epoch * batch_size)
        epoch_losses = []
        for first in range(0, len(order), batch_size):
            chosen = order[first : first + batch_size]
            batch, batch_boxes = [], []
            for index in chosen:
                image, boxes, labels = augment(rng, images[index], *annotations[index])
                batch.append(image)
                batch_boxes.append((boxes, labels))
            class_targets, box_targets, weights = targets_for(batch_boxes, anchors, num_classes)
            loss = step(np.stack(batch), class_targets, box_targets, weights)
            epoch_losses.append(float(loss))
        losses.append(float(np.mean(epoch_losses)))
    return TrainLog(time.perf_counter() - start, losses)


def save(detector, spec: ModelSpec, classes: tuple[str, ...], directory: Path) -> None:
    """weights.h5 and spec.json (the architecture and the class order) in `directory`."""
    detector.save_weights(directory / "weights.h5")
    (directory / "spec.json").write_text(json.dumps({"spec": asdict(spec),
                                                     "classes": list(classes)}, indent=1))


def load(directory: Path):
    """(detector, spec, classes) saved by `save`."""
    saved = json.loads((Path(directory) / "spec.json").read_text())
    fields = dict(saved["spec"])
    fields["anchors"] = AnchorSpec(**{k: tuple(v) if isinstance(v, list) else v
                                      for k, v in fields["anchors"].items()})
    spec = ModelSpec(**fields)
    detector = build_detector(spec)
    detector.load_weights(Path(directory) / "weights.h5")
    return detector, spec, tuple(saved["classes"])
