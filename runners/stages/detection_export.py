"""`detection_export`: the trained detector as a float or full-integer int8 `.tflite` ending in
`TFLite_Detection_PostProcess` (int8 calibrates on training images), or the user's own
detector, checked to end in that op, measured in place."""

from __future__ import annotations

from pathlib import Path

from tpulens.runners.detection import anchors, export, model, splits
from tpulens.runners.detection.tflite_detector import check_detector
from tpulens.runners.stages import StepResult
from tpulens.runners.tfsetup import import_tf


def run(config: dict, inputs: dict, out_dir: Path, ctx) -> StepResult:
    if "tflite" in config:
        path = Path(config["tflite"])
        check_detector(path)
        return StepResult(outputs={"tflite": str(path)},
                          notes=[f"bring-your-own detector {path.name}"])
    import_tf()
    detector, spec, _ = model.load(inputs["model"]["outputs"]["model"])
    calibration = ()
    if config["kind"] == "int8":
        train_set = splits.read(inputs["dataset"]["outputs"]["splits"], "train")
        calibration, _ = splits.as_arrays(train_set, spec.image_size)
        calibration = calibration[:config["calibration_images"]]
    path = out_dir / f"{config['kind']}.tflite"
    path.write_bytes(export.convert(detector, anchors.make_anchors(spec.image_size, spec.anchors),
                                    spec.image_size, spec.num_classes, config["kind"],
                                    calibration))
    return StepResult(outputs={"tflite": str(path)})
