"""Object detection experiment: Pascal VOC data -> SSD detector -> float / int8 TFLite with
`TFLite_Detection_PostProcess` -> COCO metrics (pycocotools) -> Edge TPU verdict.

It retraces the study where EfficientDet-Lite3 was trained on 150 Pascal VOC car/truck images,
measured with the COCO table before and after full-integer quantization, then compiled for the
Edge TPU (273 of 424 ops mapped). Here the data is generated (Fashion-MNIST objects pasted on
varied backgrounds, written as JPEG + VOC XML, split 110/20/20), the detector is an SSD with a
MobileNetV2 backbone trained from scratch on CPU, and the pipeline's compile stage analyses the
returned `.tflite`. A variant can instead bring its own detector and dataset.

Entry point: `run_variant(params, cache_dir, profile)`. `params` is the variant's `params` table
from benchmarks.toml, passed verbatim; every key is optional, unknown keys or wrong types raise
InputError. Defaults in brackets are the `default` profile's:

- `export`: "keras" | "float" | "int8" (default "int8"): which model the record measures.
- `seed` (0), `images` (150), `image_size` (128, multiple of 32), `classes` (Fashion-MNIST
  names, default ["trouser", "bag"]): the generated dataset.
- `epochs` (60), `batch_size` (8), `learning_rate` (3e-3): training; one training per distinct
  (dataset, epochs, batch_size, learning_rate, seed, image_size) is shared by all variants.
- `eval_split`: "test" (default), "val", "train" or "all".
- `calibration_images` (40): training images used to calibrate int8 quantization.
- `latency_runs` (50), `threads` (1): CPU latency with LiteRT (TensorFlow for "keras").
- `score_threshold` (0.01): lowest detection score kept.
- Bring your own: `dataset` = a Pascal VOC directory (Annotations/ [+ JPEGImages/,
  ImageSets/Main/<split>.txt]) or a flat folder of XMLs, a COCO `.json` or a `.csv` (filename,
  class, xmin, ymin, xmax, ymax); `images_dir` if the images live elsewhere. With `dataset`
  alone the detector is trained on it (its own VOC splits, else a seeded 110/20/20 split).
  `tflite` = an existing detector ending in TFLite_Detection_PostProcess (e.g. from TFLite
  Model Maker): evaluated without training, on `eval_split` (default "all" then); `labels` =
  class names in the model's class-index order (default: the dataset's sorted names);
  `float_range` = input range of a float-input model ([0, 255] default).

`profile` ("quick" | "default" | "full") sets images, image_size, epochs, calibration images
and latency runs (settings.PROFILES: quick = 40 images at 96 px, 25 epochs; full = 160 px,
150 epochs); explicit params win.

Returns {"metrics": {coco_AP, coco_AP50, coco_AP75, coco_APs, coco_APm, coco_APl, coco_ARmax1,
coco_ARmax10, coco_ARmax100, coco_ARs, coco_ARm, coco_ARl, coco_AP_<class>, size_bytes,
latency_ms_p50, latency_ms_p90}, "metric_info": {...}, "artifacts": {"tflite": path or None,
"dataset": ..., "weights": ...}, "notes": [...], "timings": {step: seconds}}. COCO values are
-1 where the test set has no object of that size range; `size_bytes` of the "keras" variant is
its weights file. Nothing here imports TensorFlow until a variant runs.
"""

from __future__ import annotations

from pathlib import Path


def run_variant(params: dict, cache_dir: Path, profile: str) -> dict:
    """Run one detection variant; steps shared with other variants come from `cache_dir`."""
    from tpulens.runners.detection.pipeline import run

    return run(params, Path(cache_dir), profile)
