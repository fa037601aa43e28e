"""A detection variant's parameters: defaults, overridden by the profile's `detection` table,
the experiment's `defaults.params` and the variant's `params` (validated by runners.config).

The defaults are the `default` profile's sizes: a generated two-class set of 150 images at
128 px, trained 60 epochs, int8 exported and measured with COCO metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

EXPORTS = ("keras", "float", "int8")
FASHION_CLASSES = ("t_shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                   "sneaker", "bag", "ankle_boot")  # the generated set's objects
SPLITS = ("train", "val", "test", "all")
# What a profile may size (the [profiles.X.detection] table).
PROFILE_KEYS = ("images", "image_size", "epochs", "batch_size", "calibration_images",
                "latency_runs", "example_images")


@dataclass(frozen=True)
class DetectionParams:
    export: str = "int8"  # which model the record measures
    seed: int = 0
    images: int = 150
    image_size: int = 128
    epochs: int = 60
    batch_size: int = 8
    learning_rate: float = 3e-3
    classes: tuple[str, ...] = ("trouser", "bag")  # Fashion-MNIST classes of the generated set
    eval_split: str = "test"
    calibration_images: int = 40
    latency_runs: int = 50
    threads: int = 1
    score_threshold: float = 0.01
    example_images: int = 4  # test images recorded with their boxes
    # Bring your own: a .tflite detector and/or a dataset (VOC dir, COCO .json or .csv).
    tflite: str | None = None
    dataset: str | None = None
    images_dir: str | None = None
    labels: tuple[str, ...] | None = None
    float_range: tuple[float, float] = (0.0, 255.0)


NAMES = tuple(f.name for f in fields(DetectionParams))


def resolve(profile_sizes: dict, params: dict) -> DetectionParams:
    """The variant's parameters; a bring-your-own detector is evaluated on every image unless
    an `eval_split` is given (none of them trained it)."""
    values = {**profile_sizes, **params}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    if values.get("tflite") and "eval_split" not in params:
        values["eval_split"] = "all"
    return replace(DetectionParams(), **values)
