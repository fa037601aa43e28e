"""Detection pictures: a few test images with the ground-truth and predicted boxes of every
model of a detection experiment (Keras, float, int8) side by side.

Read from each record's `artifacts.examples` (docs/data-contracts.md): an `examples.json` with
the images beside it, inside results/. Like every result file it may come from anyone, so the
JSON is bounded, image files must be small JPEG or PNG files named plainly beside it, and every
box is clipped to its image; whatever cannot be used is one problem line and the page goes on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tpulens.report import files
from tpulens.report.load import Record

MAX_IMAGES = 4  # rows of the grid: a screenful
MAX_BOXES = 20  # of each kind on one image
MAX_SIDE = 4096  # pixels: the runners write at most 320
MAX_EXAMPLES_BYTES = 1024 * 1024
MAX_IMAGE_BYTES = 512 * 1024
MAGIC = {b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png"}
EXPORT_ORDER = ("keras", "float", "int8")  # the study's table reads Keras → int8
CLASS_COLORS = ("#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#558b2f", "#4e342e")


@dataclass(frozen=True)
class OverlayBox:
    """A box in percent of its image (so it scales with the picture), with its label."""

    label: str
    left: float
    top: float
    width: float
    height: float
    color: str
    score: float | None = None  # None: ground truth

    @property
    def caption(self) -> str:
        return self.label if self.score is None else f"{self.label} {self.score:.2f}"


@dataclass(frozen=True)
class Picture:
    file: str  # published name, relative to the experiment page
    data: bytes
    width: int
    height: int
    source: str  # the dataset image it shows
    truth: tuple[OverlayBox, ...]
    predicted: tuple[OverlayBox, ...]


@dataclass(frozen=True)
class Examples:
    variants: list[str]  # the grid's columns
    rows: list[list[Picture | None]]  # one row per image, one picture (or none) per variant
    min_score: float | None  # predictions below it are not drawn
    classes: list[tuple[str, str]]  # (class, colour) for the legend


def model_order(records: list[Record]) -> list[Record]:
    """Keras, float, int8 (the order the models are made in, by `params.export` or else the
    variant's name), then any other variant."""

    def rank(record: Record) -> tuple[int, str]:
        export = record.params.get("export", record.variant)
        known = export in EXPORT_ORDER
        return (EXPORT_ORDER.index(export) if known else len(EXPORT_ORDER), record.variant)

    return sorted(records, key=rank)


class _Invalid(Exception):
    """Why an examples file cannot be used."""


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Invalid(f"{str(value)[:40]!r} is not a number")
    return float(value)


def _boxes(entries: object, width: int, height: int, colors: dict[str, str], scored: bool):
    if not isinstance(entries, list):
        raise _Invalid("boxes are not a list")
    out = []
    for entry in entries[:MAX_BOXES]:
        if not isinstance(entry, dict) or not isinstance(entry.get("label"), str):
            raise _Invalid("a box without a label")
        box = entry.get("box")
        if not isinstance(box, list) or len(box) != 4:
            raise _Invalid("a box is not [xmin, ymin, xmax, ymax]")
        x0, y0, x1, y1 = (_number(v) for v in box)
        x0, x1 = sorted((min(max(x0, 0), width), min(max(x1, 0), width)))
        y0, y1 = sorted((min(max(y0, 0), height), min(max(y1, 0), height)))
        if x1 - x0 <= 0 or y1 - y0 <= 0:
            continue  # nothing of it inside the image
        label = entry["label"][:40]
        score = _number(entry.get("score")) if scored else None
        color = colors.setdefault(label, CLASS_COLORS[len(colors) % len(CLASS_COLORS)])
        out.append(
            OverlayBox(
                label,
                round(100 * x0 / width, 2),
                round(100 * y0 / height, 2),
                round(100 * (x1 - x0) / width, 2),
                round(100 * (y1 - y0) / height, 2),
                color,
                score,
            )
        )
    return tuple(out)


def _size(image: dict, key: str) -> int:
    value = image.get(key)
    if type(value) is not int or not 0 < value <= MAX_SIDE:
        raise _Invalid(f"image {key} {str(value)[:20]} is not 1 to {MAX_SIDE} pixels")
    return value


def _picture(folder, image: object, name: str, colors: dict[str, str]) -> Picture:
    if not isinstance(image, dict) or not isinstance(image.get("file"), str):
        raise _Invalid("an image entry without a file")
    file = image["file"]
    if "/" in file or "\\" in file or file.startswith("."):
        raise _Invalid(f"image file {file[:60]!r} is not a plain name beside examples.json")
    try:
        data = files.read_regular(folder / file, MAX_IMAGE_BYTES)
    except files.Unusable as err:
        raise _Invalid(f"{file[:60]}: {err}") from err
    kind = next((k for magic, k in MAGIC.items() if data.startswith(magic)), None)
    if kind is None:
        raise _Invalid(f"{file[:60]}: not a JPEG or PNG image")
    width, height = _size(image, "width"), _size(image, "height")
    source = image.get("source") if isinstance(image.get("source"), str) else file
    return Picture(
        f"{name}.{kind}",
        data,
        width,
        height,
        source[:80],
        _boxes(image.get("ground_truth", []), width, height, colors, scored=False),
        _boxes(image.get("predictions", []), width, height, colors, scored=True),
    )


def _pictures(record: Record, folder_name: str, column: int, colors: dict) -> tuple[list, float]:
    """The pictures of one record's examples.json, and its min_score."""
    try:
        _, data = files.read_json_object(record.examples, MAX_EXAMPLES_BYTES)
    except files.Unusable as err:
        raise _Invalid(str(err)) from err
    images = data.get("images")
    if not isinstance(images, list):
        raise _Invalid("no list of images")
    for label in data.get("classes") or []:
        if isinstance(label, str):
            colors.setdefault(label[:40], CLASS_COLORS[len(colors) % len(CLASS_COLORS)])
    min_score = data.get("min_score")
    pictures = [
        _picture(record.examples.parent, image, f"{folder_name}/{column}-{row}", colors)
        for row, image in enumerate(images[:MAX_IMAGES])
    ]
    valid = isinstance(min_score, int | float) and not isinstance(min_score, bool)
    return pictures, float(min_score) if valid else None


def detection_examples(slug: str, records: list[Record], problems: list[str]) -> Examples | None:
    """The grid of an experiment whose records carry examples (None when none does); pictures
    are published under `<slug>-examples/` beside the experiment page."""
    with_examples = [r for r in model_order(records) if r.examples is not None]
    if not with_examples:
        return None
    colors: dict[str, str] = {}
    columns, scores = [], set()
    for column, record in enumerate(with_examples):
        try:
            pictures, min_score = _pictures(record, f"{slug}-examples", column, colors)
        except _Invalid as why:
            problems.append(f"{record.path}: examples not shown: {why}")
            continue
        columns.append((record.variant, pictures))
        scores.add(min_score)
    if not columns:
        return None
    depth = max(len(pictures) for _, pictures in columns)
    rows = [[p[i] if i < len(p) else None for _, p in columns] for i in range(depth)]
    return Examples(
        [variant for variant, _ in columns],
        rows,
        scores.pop() if len(scores) == 1 else None,
        sorted(colors.items()),
    )
