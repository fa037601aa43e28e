"""`detection_dataset`: the images and boxes a detection experiment trains and measures on,
split once into train / val / test / all (`splits.json`).

Either generated (Fashion-MNIST objects pasted on varied backgrounds, written as JPEG + Pascal
VOC XML like a labelling tool's export) or the user's own Pascal VOC directory, flat folder of
XMLs, COCO `.json` or `.csv`, read in place and checked box by box before anything trains.
"""

from __future__ import annotations

from pathlib import Path

from tpulens.runners.detection import splits, synth
from tpulens.runners.stages import StepResult


def run(config: dict, inputs: dict, out_dir: Path, ctx) -> StepResult:
    if "generate" in config:
        recipe = config["generate"]
        root = out_dir / "voc"
        synth.generate(root, recipe["images"], recipe["image_size"], tuple(recipe["classes"]),
                       recipe["seed"])
        found = splits.split(root, None, config["seed"], tuple(sorted(recipe["classes"])))
        note = (f"generated set: {recipe['images']} images of {recipe['image_size']} px, "
                f"classes {', '.join(sorted(recipe['classes']))}")
    else:
        root = Path(config["source"]["path"])
        images_dir = config["source"].get("images_dir")
        labels = tuple(config["labels"]) if config.get("labels") else None
        found = splits.split(root, Path(images_dir) if images_dir else None, config["seed"],
                             labels)
        note = f"dataset {root.name}: {len(found['all'].samples)} images"
    splits.write(found, out_dir / "splits.json")
    sizes = {name: len(found[name].samples) for name in ("train", "val", "test")}
    return StepResult(outputs={"dataset": str(root), "splits": str(out_dir / "splits.json")},
                      notes=[f"{note} (train/val/test {sizes['train']}/{sizes['val']}/"
                             f"{sizes['test']})"],
                      info={"classes": list(found["all"].classes), "split_sizes": sizes})
