"""A user's detection dataset as labelling tools export it, for the detection tests."""

from pathlib import Path

from tpulens.runners.detection import synth
from tpulens.runners.detection.datasets import Box, Sample, voc_xml


def user_voc_folder(folder: Path, count: int) -> Path:
    """A flat makesense-style folder (JPEG + XML side by side, no split files), car/truck."""
    generated = synth.generate(folder / "gen", images=count, image_size=64, seed=5)
    flat = folder / "flat"
    flat.mkdir()
    for sample in generated:
        renamed = [Box("car" if b.label == "bag" else "truck", b.xmin, b.ymin, b.xmax, b.ymax)
                   for b in sample.boxes]
        image = flat / f"img_{sample.image_path.stem}.jpg"
        image.write_bytes(sample.image_path.read_bytes())
        xml = voc_xml(Sample(image, sample.width, sample.height, tuple(renamed)))
        (flat / f"img_{sample.image_path.stem}.xml").write_text(xml)
    return flat
