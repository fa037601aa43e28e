"""Detection datasets: Pascal VOC XML, COCO JSON and CSV loaders, and a Pascal VOC writer.

Every loader returns the same `DetectionSet` (absolute pixel boxes, one `Sample` per image) and
raises `InputError` naming the file and the object when an annotation is malformed or a box
leaves its image, so a user's labelling mistake is reported before any training starts.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tpulens.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class Box:
    """One labelled object, in absolute pixels (xmax/ymax exclusive, as COCO's x+w)."""

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass(frozen=True)
class Sample:
    image_path: Path
    width: int
    height: int
    boxes: tuple[Box, ...]


@dataclass(frozen=True)
class DetectionSet:
    samples: tuple[Sample, ...]
    classes: tuple[str, ...]  # sorted class names; a model's class index i means classes[i]


def make_set(samples: list[Sample], classes: list[str] | tuple[str, ...] | None = None):
    """A DetectionSet; classes default to the sorted labels found, and given classes must
    cover every label (a label outside them would have no class index)."""
    found = sorted({box.label for sample in samples for box in sample.boxes})
    if not classes:
        return DetectionSet(tuple(samples), tuple(found))
    for sample in samples:
        for box in sample.boxes:
            if box.label not in classes:
                raise InputError(
                    f"{sample.image_path}: class '{box.label}' is not one of {list(classes)}"
                )
    return DetectionSet(tuple(samples), tuple(classes))


def check_box(box: Box, width: int, height: int, where: str) -> Box:
    """Reject empty, inverted or out-of-image boxes with a message naming the object."""
    if not box.label:
        raise InputError(f"{where}: object has no class name")
    if not (box.xmin < box.xmax and box.ymin < box.ymax):
        raise InputError(
            f"{where}: box of '{box.label}' is empty or inverted "
            f"(xmin={box.xmin}, ymin={box.ymin}, xmax={box.xmax}, ymax={box.ymax})"
        )
    if box.xmin < 0 or box.ymin < 0 or box.xmax > width or box.ymax > height:
        raise InputError(
            f"{where}: box of '{box.label}' ({box.xmin}, {box.ymin}, {box.xmax}, {box.ymax}) "
            f"lies outside the {width}x{height} image"
        )
    return box


def image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size
    except OSError as error:
        raise InputError(f"{path}: cannot read image ({error})") from error


# ---------------------------------------------------------------- Pascal VOC


def _number(node: ET.Element, tag: str, where: str) -> float:
    text = node.findtext(tag)
    try:
        return float(text)
    except (TypeError, ValueError):
        raise InputError(f"{where}: <{tag}> is missing or not a number ({text!r})") from None


def _find_image(xml_path: Path, filename: str, images_dir: Path | None) -> Path:
    """The image an XML names: next to it, in images_dir, or in a VOC JPEGImages/ sibling."""
    candidates = [xml_path.parent / filename, xml_path.parent.parent / "JPEGImages" / filename]
    if images_dir is not None:
        candidates.insert(0, images_dir / filename)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    stem_matches = [
        xml_path.with_suffix(suffix)
        for suffix in IMAGE_SUFFIXES
        if xml_path.with_suffix(suffix).is_file()
    ]
    if stem_matches:
        return stem_matches[0]
    raise InputError(f"{xml_path}: image '{filename}' not found")


def parse_voc_xml(xml_path: Path, images_dir: Path | None = None) -> Sample:
    """One Pascal VOC annotation file (makesense.ai, LabelImg, CVAT, VOC2012 all write this)."""
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError) as error:
        raise InputError(f"{xml_path}: not a readable XML file ({error})") from error
    if root.tag != "annotation":
        raise InputError(f"{xml_path}: root element is <{root.tag}>, expected <annotation>")
    filename = (root.findtext("filename") or "").strip() or xml_path.stem + ".jpg"
    image_path = _find_image(xml_path, filename, images_dir)
    size = root.find("size")
    if size is not None and size.findtext("width") and size.findtext("height"):
        width = int(_number(size, "width", f"{xml_path}: <size>"))
        height = int(_number(size, "height", f"{xml_path}: <size>"))
    else:
        width, height = image_size(image_path)
    if width <= 0 or height <= 0:  # makesense writes 0 when it never decoded the image
        width, height = image_size(image_path)
    boxes = []
    for number, obj in enumerate(root.findall("object"), start=1):
        label = (obj.findtext("name") or "").strip()
        where = f"{xml_path}: object {number} ('{label}')"
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise InputError(f"{where}: no <bndbox>")
        box = Box(
            label,
            _number(bndbox, "xmin", where),
            _number(bndbox, "ymin", where),
            _number(bndbox, "xmax", where),
            _number(bndbox, "ymax", where),
        )
        boxes.append(check_box(box, width, height, where))
    return Sample(image_path, width, height, tuple(boxes))


def load_voc(path: Path, images_dir: Path | None = None, split: str | None = None):
    """A VOC directory (Annotations/ + JPEGImages/ [+ ImageSets/Main/<split>.txt]) or a flat
    folder of XML files as labelling tools export them."""
    path = Path(path)
    annotations = path / "Annotations" if (path / "Annotations").is_dir() else path
    if not annotations.is_dir():
        raise InputError(f"{path}: not a directory of Pascal VOC XML files")
    if split is not None:
        split_file = path / "ImageSets" / "Main" / f"{split}.txt"
        if not split_file.is_file():
            raise InputError(f"{split_file}: split '{split}' not found")
        names = [line.split()[0] for line in split_file.read_text().splitlines() if line.strip()]
        xml_paths = [annotations / f"{name}.xml" for name in names]
        missing = [p for p in xml_paths if not p.is_file()]
        if missing:
            raise InputError(f"{split_file}: lists '{missing[0].stem}' but {missing[0]} is missing")
    else:
        xml_paths = sorted(annotations.glob("*.xml"))
    if not xml_paths:
        raise InputError(f"{annotations}: no .xml annotation files")
    images_dir = images_dir or (path / "JPEGImages" if (path / "JPEGImages").is_dir() else None)
    return make_set([parse_voc_xml(p, images_dir) for p in xml_paths])


def voc_xml(sample: Sample) -> str:
    """The Pascal VOC XML text for one sample (integer pixel corners, like labelling tools)."""
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = sample.image_path.parent.name
    ET.SubElement(root, "filename").text = sample.image_path.name
    size = ET.SubElement(root, "size")
    ET.SubElement(size, "width").text = str(sample.width)
    ET.SubElement(size, "height").text = str(sample.height)
    ET.SubElement(size, "depth").text = "3"
    for box in sample.boxes:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = box.label
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        bndbox = ET.SubElement(obj, "bndbox")
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            ET.SubElement(bndbox, tag).text = str(int(round(getattr(box, tag))))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


# ---------------------------------------------------------------- COCO JSON


def load_coco(json_path: Path, images_dir: Path | None = None):
    """A COCO detection JSON (images, annotations with bbox [x, y, w, h], categories)."""
    json_path = Path(json_path)
    try:
        data = json.loads(json_path.read_text())
        categories = {c["id"]: str(c["name"]) for c in data["categories"]}
        images = data["images"]
        annotations = data.get("annotations", [])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{json_path}: not a COCO detection JSON ({error!r})") from error
    images_dir = Path(images_dir) if images_dir else json_path.parent
    by_image: dict = {image["id"]: [] for image in images}
    for number, ann in enumerate(annotations, start=1):
        where = f"{json_path}: annotation {number} (id {ann.get('id')})"
        try:
            x, y, w, h = (float(v) for v in ann["bbox"])
            label = categories[ann["category_id"]]
            owner = by_image[ann["image_id"]]
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(f"{where}: bad bbox, category_id or image_id ({error!r})") from None
        owner.append((where, Box(label, x, y, x + w, y + h)))
    samples = []
    for image in images:
        path = images_dir / image["file_name"]
        width, height = image.get("width"), image.get("height")
        if not width or not height:
            width, height = image_size(path)
        boxes = tuple(check_box(box, width, height, where) for where, box in by_image[image["id"]])
        samples.append(Sample(path, int(width), int(height), boxes))
    return make_set(samples, sorted(set(categories.values())))


# ---------------------------------------------------------------- CSV

CSV_COLUMNS = ("filename", "class", "xmin", "ymin", "xmax", "ymax")


def load_csv(csv_path: Path, images_dir: Path | None = None):
    """A CSV with a header naming filename, class, xmin, ymin, xmax, ymax (absolute pixels;
    width and height columns optional), one row per box: the common labelImg/xml_to_csv shape."""
    csv_path = Path(csv_path)
    images_dir = Path(images_dir) if images_dir else csv_path.parent
    try:
        rows = list(csv.DictReader(csv_path.read_text().splitlines()))
    except (OSError, csv.Error) as error:
        raise InputError(f"{csv_path}: cannot read CSV ({error})") from error
    header = set(rows[0].keys()) if rows else set()
    missing = [column for column in CSV_COLUMNS if column not in header]
    if missing:
        raise InputError(f"{csv_path}: missing column(s) {', '.join(missing)}")
    grouped: dict[str, list] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for line, row in enumerate(rows, start=2):
        where = f"{csv_path}: line {line} ('{row['class']}')"
        name = row["filename"]
        if name not in sizes:
            if row.get("width") and row.get("height"):
                sizes[name] = (int(float(row["width"])), int(float(row["height"])))
            else:
                sizes[name] = image_size(images_dir / name)
        try:
            corners = [float(row[key]) for key in ("xmin", "ymin", "xmax", "ymax")]
        except (TypeError, ValueError):
            raise InputError(f"{where}: a box coordinate is not a number") from None
        box = check_box(Box(row["class"].strip(), *corners), *sizes[name], where)
        grouped.setdefault(name, []).append(box)
    samples = [
        Sample(images_dir / name, *sizes[name], tuple(boxes)) for name, boxes in grouped.items()
    ]
    return make_set(samples)


def load_any(path: Path, images_dir: Path | None = None):
    """Pick the loader from the path: a .json file, a .csv file, or a VOC directory."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: dataset not found")
    if path.suffix.lower() == ".json":
        return load_coco(path, images_dir)
    if path.suffix.lower() == ".csv":
        return load_csv(path, images_dir)
    return load_voc(path, images_dir)
