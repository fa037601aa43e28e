"""Small Keras helpers shared by the train, optimize and convert stages."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tpulens.runners import datasets
from tpulens.runners.tfsetup import import_tf

FINETUNE_SEED = 0  # any fixed seed: what matters is that it does not depend on the worker


def compile_classifier(model, learning_rate: float) -> None:
    tf = import_tf()
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


def fit(model, x: np.ndarray, y: np.ndarray, epochs: float, batch_size: int,
        callbacks=()) -> None:
    """Train for a possibly fractional number of epochs: whole epochs over all samples, then
    one pass over a seeded random share of them."""
    whole = int(epochs)
    if whole:
        model.fit(x, y, epochs=whole, batch_size=batch_size, verbose=0, shuffle=True,
                  callbacks=list(callbacks))
    part = round(len(x) * (epochs - whole))
    if part >= batch_size:
        idx = np.sort(np.random.default_rng(0).permutation(len(x))[:part])
        model.fit(x[idx], y[idx], epochs=1, batch_size=batch_size, verbose=0, shuffle=True,
                  callbacks=list(callbacks))


def seed_finetuning() -> None:
    """Seed a fine-tuning step (pruning, clustering, QAT) the way `models.build` seeds a
    training: without it, its batch shuffling follows whatever global seed the worker's last
    training set, or none (training restored from the cache), so the same step gave another
    model in another run (measured: the same clustered model, fine-tuned for CQAT in a fresh
    process, converted to a .tflite of other bytes than in the suite's run). Every training
    of the suite seeds 0, so a cold run's fine-tuning already started from this state."""
    import_tf().keras.utils.set_random_seed(FINETUNE_SEED)


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of a logits model."""
    logits = model.predict(x, batch_size=256, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == y))


def load(path: str | Path):
    tf = import_tf()
    return tf.keras.models.load_model(str(path), compile=False)


def save(model, out_dir: Path) -> Path:
    path = out_dir / "model.h5"
    model.save(str(path), include_optimizer=False)
    return path


def data(config: dict, input_size: int) -> datasets.Split:
    return datasets.prepared(config["dataset"], input_size)


def recalibrate_batchnorm(model, x: np.ndarray, samples: int = 1024) -> None:
    """Re-estimate BatchNorm moving statistics from one large training batch.

    After a few dozen training steps the moving averages still lag the weights, and inference
    accuracy falls to chance while training accuracy is fine; re-estimating the statistics from
    data ("precise BN") fixes that without more training. QAT wrappers are looked through.
    """
    tf = import_tf()
    layers = []
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, tf.keras.layers.BatchNormalization):
            layers.append(inner)
    if not layers:
        return
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    model(x[:samples], training=True)
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
