"""A generated two-class detection set, written as JPEG + Pascal VOC XML like a labelling tool.

Fashion-MNIST objects (Debian's `dataset-fashion-mnist`) are pasted at varied scales, colours
and positions on varied backgrounds (gradients, smooth noise, distractor shapes), so the set
stands in for the study's 150 car/truck photos without any download. Deterministic by seed.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from tpulens.runners.detection.datasets import Box, Sample, voc_xml
from tpulens.runners.detection.params import FASHION_CLASSES

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
STUDY_SPLIT = (110, 20, 20)
STUDY_SPLIT_NAMES = ("train", "val", "test")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip or plain) as a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_objects(classes: tuple[str, ...], fashion_dir: Path = FASHION_DIR) -> dict:
    """Fashion-MNIST training images of the wanted classes, keyed by class name."""
    from tpulens.errors import InputError

    images_path = fashion_dir / "train-images-idx3-ubyte.gz"
    if not images_path.is_file():
        raise InputError(
            f"{images_path}: Fashion-MNIST not found (apt-get install dataset-fashion-mnist)"
        )
    images = read_idx(images_path)
    labels = read_idx(fashion_dir / "train-labels-idx1-ubyte.gz")
    unknown = [name for name in classes if name not in FASHION_CLASSES]
    if unknown:
        raise InputError(f"classes: {unknown} not Fashion-MNIST classes {FASHION_CLASSES}")
    return {name: images[labels == FASHION_CLASSES.index(name)] for name in classes}


def split_sizes(images: int) -> tuple[int, int, int]:
    """The study's 110/20/20 proportions scaled to `images` (at least one image per split)."""
    val = max(1, round(images * STUDY_SPLIT[1] / sum(STUDY_SPLIT)))
    test = max(1, round(images * STUDY_SPLIT[2] / sum(STUDY_SPLIT)))
    return images - val - test, val, test


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A float RGB canvas: a colour gradient, smooth noise and a few distractor shapes."""
    from PIL import Image

    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy)[..., None]
    ramp = (ramp - ramp.min()) / (np.ptp(ramp) + 1e-6)
    start, end = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    canvas = start + (end - start) * ramp
    coarse = rng.normal(0, 25, (6, 6, 3)).astype(np.float32)
    smooth = np.stack(
        [
            np.asarray(Image.fromarray(coarse[..., c]).resize((size, size), Image.BICUBIC))
            for c in range(3)
        ],
        axis=-1,
    )
    canvas = canvas + smooth
    for _ in range(rng.integers(0, 4)):
        h, w = rng.integers(size // 12, size // 3, 2)
        y, x = rng.integers(0, size - h), rng.integers(0, size - w)
        colour = rng.uniform(0, 255, 3)
        if rng.random() < 0.5:
            canvas[y : y + h, x : x + w] = 0.5 * canvas[y : y + h, x : x + w] + 0.5 * colour
        else:
            inside = ((yy * size - y - h / 2) / (h / 2)) ** 2 + (
                (xx * size - x - w / 2) / (w / 2)
            ) ** 2
            canvas[inside < 1] = 0.5 * canvas[inside < 1] + 0.5 * colour
    return canvas + rng.normal(0, 6, canvas.shape)


def iou(a: tuple, b: tuple) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def paste_object(rng, canvas: np.ndarray, sprite: np.ndarray, taken: list) -> tuple | None:
    """Scale a 28x28 sprite, tint it, paste it where it overlaps little; return its tight box."""
    from PIL import Image

    size = canvas.shape[0]
    ys, xs = np.nonzero(sprite > 20)
    sprite = sprite[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    side = rng.uniform(0.14, 0.5) * size
    scale = side / max(sprite.shape)
    h, w = max(4, round(sprite.shape[0] * scale)), max(4, round(sprite.shape[1] * scale))
    resized = np.asarray(Image.fromarray(sprite).resize((w, h), Image.BILINEAR), np.float32) / 255
    for _ in range(30):
        y, x = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
        mask_y, mask_x = np.nonzero(resized > 0.25)
        box = (x + mask_x.min(), y + mask_y.min(), x + mask_x.max() + 1, y + mask_y.max() + 1)
        if all(iou(box, other) < 0.2 for other in taken):
            break
    else:
        return None
    alpha = np.clip(resized * 2.5, 0, 1)[..., None]
    colour = rng.uniform(0, 255, 3)
    texture = colour * (0.45 + 0.55 * resized[..., None])
    region = canvas[y : y + h, x : x + w]
    canvas[y : y + h, x : x + w] = region * (1 - alpha) + texture * alpha
    return box


def generate(
    out_dir: Path,
    images: int = 150,
    image_size: int = 160,
    classes: tuple[str, ...] = ("trouser", "bag"),
    seed: int = 0,
    max_objects: int = 3,
) -> list[Sample]:
    """Write JPEGImages/, Annotations/ and ImageSets/Main/{train,val,test}.txt under out_dir."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    objects = fashion_objects(tuple(classes))
    for folder in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    samples = []
    for number in range(images):
        canvas = background(rng, image_size)
        boxes: list[Box] = []
        for _ in range(rng.integers(1, max_objects + 1)):
            label = classes[int(rng.integers(len(classes)))]
            sprite = objects[label][int(rng.integers(len(objects[label])))]
            corners = paste_object(
                rng, canvas, sprite, [(b.xmin, b.ymin, b.xmax, b.ymax) for b in boxes]
            )
            if corners is not None:
                boxes.append(Box(label, *(float(v) for v in corners)))
        image_path = out_dir / "JPEGImages" / f"{number:04d}.jpg"
        pixels = np.clip(canvas, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(image_path, quality=92)
        sample = Sample(image_path, image_size, image_size, tuple(boxes))
        (out_dir / "Annotations" / f"{number:04d}.xml").write_text(voc_xml(sample))
        samples.append(sample)
    train, val, _ = split_sizes(images)
    names = [f"{n:04d}" for n in range(images)]
    members_of = (names[:train], names[train : train + val], names[train + val :])
    for split, members in zip(STUDY_SPLIT_NAMES, members_of, strict=True):
        (out_dir / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(members) + "\n")
    return samples
