"""The variant's params (benchmarks.toml, passed verbatim) resolved against per-profile
defaults, with unknown keys and bad values reported as InputError."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

from tpulens.errors import InputError

EXPORTS = ("keras", "float", "int8")

# Sizes per profile: `default` must finish cold (data + one training + exports + evaluations)
# in about five minutes on a 2-core CPU, `quick` well under two.
PROFILES = {
    "quick": dict(images=40, image_size=96, epochs=25, calibration_images=8, latency_runs=10),
    "default": dict(images=150, image_size=128, epochs=60, calibration_images=40, latency_runs=50),
    "full": dict(images=150, image_size=160, epochs=150, calibration_images=110, latency_runs=200),
}


@dataclass(frozen=True)
class Settings:
    export: str = "int8"
    seed: int = 0
    images: int = 150
    image_size: int = 128
    epochs: int = 60
    batch_size: int = 8
    learning_rate: float = 3e-3
    classes: tuple[str, ...] = ("trouser", "bag")
    eval_split: str = "test"
    calibration_images: int = 40
    latency_runs: int = 50
    threads: int = 1
    score_threshold: float = 0.01
    # Bring your own: a .tflite detector and/or a dataset (VOC dir, COCO .json or .csv).
    tflite: str | None = None
    dataset: str | None = None
    images_dir: str | None = None
    labels: tuple[str, ...] | None = None
    float_range: tuple[float, float] = (0.0, 255.0)


def expected_type(key: str) -> tuple[type, ...]:
    default = getattr(Settings(), key)
    if default is None:
        return (tuple,) if key == "labels" else (str,)
    return (int, float) if isinstance(default, float) else (type(default),)


def resolve(params: dict, profile: str) -> Settings:
    if profile not in PROFILES:
        raise InputError(f"profile: '{profile}' is not one of {', '.join(PROFILES)}")
    known = {field.name: field for field in fields(Settings)}
    values = dict(PROFILES[profile])
    for key, value in params.items():
        if key not in known:
            raise InputError(f"detection params: unknown key '{key}' (known: {', '.join(known)})")
        value = tuple(value) if isinstance(value, list) else value
        if not isinstance(value, expected_type(key)) or isinstance(value, bool):
            raise InputError(f"detection params: '{key}' = {value!r} has the wrong type")
        values[key] = value
    if values.get("tflite") and "eval_split" not in params:
        values["eval_split"] = "all"  # someone else's detector: every image is unseen
    settings = replace(Settings(), **values)
    if settings.export not in EXPORTS:
        raise InputError(
            f"detection params: export must be one of {EXPORTS}, not {settings.export!r}"
        )
    if settings.tflite and settings.export == "keras":
        raise InputError("detection params: a bring-your-own tflite has no Keras model to evaluate")
    if settings.tflite and not settings.dataset:
        raise InputError("detection params: 'tflite' needs a 'dataset' to evaluate on")
    if settings.images < 5 or settings.image_size < 64 or settings.image_size % 32:
        raise InputError("detection params: images >= 5 and image_size a multiple of 32 (>= 64)")
    for key in ("tflite", "dataset", "images_dir"):
        path = getattr(settings, key)
        if path and not Path(path).exists():
            raise InputError(f"{path}: '{key}' not found")
    return settings
