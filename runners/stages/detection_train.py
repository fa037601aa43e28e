"""`detection_train`: train the SSD detector (MobileNetV2 backbone + FPN, from scratch on the
CPU) on the dataset step's train split; one training serves every export of it."""

from __future__ import annotations

from pathlib import Path

from tpulens.runners.detection import anchors, model, splits
from tpulens.runners.stages import StepResult
from tpulens.runners.tfsetup import import_tf


def run(config: dict, inputs: dict, out_dir: Path, ctx) -> StepResult:
    import_tf()
    train_set = splits.read(inputs["dataset"]["outputs"]["splits"], "train")
    spec = model.ModelSpec(image_size=config["image_size"], num_classes=len(train_set.classes))
    images, annotations = splits.as_arrays(train_set, spec.image_size)
    detector = model.build_detector(spec, config["seed"])
    log = model.train(detector, anchors.make_anchors(spec.image_size, spec.anchors), images,
                      annotations, spec.num_classes, config["epochs"], config["batch_size"],
                      config["seed"], config["learning_rate"])
    model.save(detector, spec, train_set.classes, out_dir)
    note = (f"SSD MobileNetV2-{spec.alpha} + FPN, {spec.image_size} px, trained from scratch "
            f"{config['epochs']} epochs on {len(images)} images in {log.seconds:.0f} s "
            f"(loss {log.losses[0]:.2f} -> {log.losses[-1]:.2f})")
    return StepResult(outputs={"model": str(out_dir)}, notes=[note],
                      info={"losses": log.losses, "train_images": len(images),
                            "classes": list(train_set.classes)})
