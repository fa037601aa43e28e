"""Loaders for Pascal VOC XML, COCO JSON and CSV, on files written here, valid and malformed."""

import json
from pathlib import Path

import numpy as np
import pytest
from detection_data import user_voc_folder
from PIL import Image

from tpulens.errors import InputError
from tpulens.runners.dataset_files import path_fingerprint
from tpulens.runners.detection import datasets, splits, synth
from tpulens.runners.detection.datasets import Box, Sample

MAKESENSE_XML = """<annotation>
    <folder>my-project-name</folder>
    <filename>{filename}</filename>
    <path>/my-project-name/{filename}</path>
    <source><database>Unspecified</database></source>
    <size><width>{width}</width><height>{height}</height><depth>3</depth></size>
    {objects}
</annotation>"""

OBJECT = """<object>
        <name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>
        <difficult>0</difficult>
        <bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox>
    </object>"""


def write_image(path: Path, width=64, height=48) -> Path:
    Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(path)
    return path


def write_xml(folder: Path, stem: str, boxes, width=64, height=48) -> Path:
    objects = "\n".join(
        OBJECT.format(name=n, xmin=a, ymin=b, xmax=c, ymax=d) for n, a, b, c, d in boxes
    )
    xml = MAKESENSE_XML.format(filename=f"{stem}.jpg", width=width, height=height, objects=objects)
    path = folder / f"{stem}.xml"
    path.write_text(xml)
    return path


def test_flat_makesense_folder(tmp_path):
    write_image(tmp_path / "a.jpg")
    write_image(tmp_path / "b.jpg")
    write_xml(tmp_path, "a", [("car", 1, 2, 30, 40), ("truck", 10, 5, 64, 48)])
    write_xml(tmp_path, "b", [("car", 0, 0, 20, 20)])
    found = datasets.load_voc(tmp_path)
    assert found.classes == ("car", "truck")
    assert [s.image_path.name for s in found.samples] == ["a.jpg", "b.jpg"]
    first = found.samples[0]
    assert (first.width, first.height) == (64, 48)
    assert first.boxes == (Box("car", 1, 2, 30, 40), Box("truck", 10, 5, 64, 48))


def test_voc_layout_with_split_and_roundtrip(tmp_path):
    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    samples = []
    for stem, box in (("x1", Box("bag", 3, 4, 20, 30)), ("x2", Box("trouser", 5, 6, 7, 8))):
        image = write_image(tmp_path / "JPEGImages" / f"{stem}.jpg")
        sample = Sample(image, 64, 48, (box,))
        (tmp_path / "Annotations" / f"{stem}.xml").write_text(datasets.voc_xml(sample))
        samples.append(sample)
    (tmp_path / "ImageSets" / "Main" / "test.txt").write_text("x2\n")
    assert datasets.load_voc(tmp_path).samples == tuple(samples)
    only = datasets.load_voc(tmp_path, split="test")
    assert only.samples == (samples[1],)


def test_voc_size_missing_reads_image(tmp_path):
    write_image(tmp_path / "a.jpg", width=50, height=40)
    write_xml(tmp_path, "a", [("car", 1, 1, 50, 40)], width=0, height=0)
    sample = datasets.load_voc(tmp_path).samples[0]
    assert (sample.width, sample.height) == (50, 40)


@pytest.mark.parametrize(
    ("boxes", "message"),
    [
        ([("car", 1, 2, 30, 40), ("truck", 10, 5, 65, 48)], "object 2 ('truck')"),
        ([("car", 30, 2, 10, 40)], "empty or inverted"),
        ([("car", -1, 2, 10, 40)], "outside the 64x48 image"),
        ([("car", "a", 2, 10, 40)], "<xmin> is missing or not a number"),
    ],
)
def test_voc_bad_boxes_name_file_and_object(tmp_path, boxes, message):
    write_image(tmp_path / "a.jpg")
    xml = write_xml(tmp_path, "a", boxes)
    with pytest.raises(InputError) as error:
        datasets.load_voc(tmp_path)
    assert str(xml) in str(error.value)
    assert message in str(error.value)


def test_voc_malformed_xml(tmp_path):
    write_image(tmp_path / "a.jpg")
    (tmp_path / "a.xml").write_text("<annotation><object><name>car</name>")
    with pytest.raises(InputError, match=r"a\.xml: not a readable XML file"):
        datasets.load_voc(tmp_path)


def test_voc_object_without_bndbox(tmp_path):
    write_image(tmp_path / "a.jpg")
    (tmp_path / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><object><name>car</name></object></annotation>"
    )
    with pytest.raises(InputError, match=r"object 1 \('car'\): no <bndbox>"):
        datasets.load_voc(tmp_path)


def test_voc_missing_image(tmp_path):
    write_xml(tmp_path, "a", [("car", 1, 1, 5, 5)])
    with pytest.raises(InputError, match="image 'a.jpg' not found"):
        datasets.load_voc(tmp_path)


def coco_json(tmp_path, bbox):
    write_image(tmp_path / "a.jpg")
    data = {
        "images": [{"id": 7, "file_name": "a.jpg", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "bbox": bbox}],
        "categories": [{"id": 3, "name": "truck"}, {"id": 4, "name": "car"}],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    return path


def test_coco_json(tmp_path):
    found = datasets.load_coco(coco_json(tmp_path, [10, 5, 20, 30]))
    assert found.classes == ("car", "truck")
    assert found.samples[0].boxes == (Box("truck", 10, 5, 30, 35),)
    assert found.samples[0].image_path == tmp_path / "a.jpg"


def test_coco_box_outside_image(tmp_path):
    path = coco_json(tmp_path, [50, 5, 20, 30])
    with pytest.raises(InputError, match=r"instances\.json: annotation 1 .*outside the 64x48"):
        datasets.load_coco(path)


def test_coco_not_coco(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"images": []}')
    with pytest.raises(InputError, match="not a COCO detection JSON"):
        datasets.load_coco(path)


def test_csv(tmp_path):
    write_image(tmp_path / "a.jpg")
    path = tmp_path / "boxes.csv"
    path.write_text(
        "filename,width,height,class,xmin,ymin,xmax,ymax\n"
        "a.jpg,64,48,car,1,2,30,40\na.jpg,64,48,truck,3,4,5,6\n"
    )
    found = datasets.load_any(path)
    assert found.samples[0].boxes == (Box("car", 1, 2, 30, 40), Box("truck", 3, 4, 5, 6))


def test_csv_errors(tmp_path):
    write_image(tmp_path / "a.jpg")
    path = tmp_path / "boxes.csv"
    path.write_text("filename,class,xmin,ymin,xmax\na.jpg,car,1,2,30\n")
    with pytest.raises(InputError, match="missing column"):
        datasets.load_csv(path)
    path.write_text("filename,class,xmin,ymin,xmax,ymax\na.jpg,car,1,2,3,4\na.jpg,car,1,2,30,99\n")
    with pytest.raises(InputError, match=r"line 3 \('car'\).*outside the 64x48 image"):
        datasets.load_csv(path)


def test_generated_set_is_voc_deterministic_and_split(tmp_path):
    first = synth.generate(tmp_path / "a", images=12, image_size=96, seed=3)
    again = synth.generate(tmp_path / "b", images=12, image_size=96, seed=3)
    assert [s.boxes for s in first] == [s.boxes for s in again]
    jpeg = (tmp_path / "a" / "JPEGImages" / "0005.jpg").read_bytes()
    assert jpeg == (tmp_path / "b" / "JPEGImages" / "0005.jpg").read_bytes()
    loaded = datasets.load_voc(tmp_path / "a")
    assert loaded.classes == ("bag", "trouser")
    assert [s.boxes for s in loaded.samples] == [
        tuple(Box(b.label, *(round(v) for v in (b.xmin, b.ymin, b.xmax, b.ymax))) for b in s.boxes)
        for s in first
    ]
    assert all(1 <= len(s.boxes) <= 3 for s in loaded.samples)
    sizes = [
        len(datasets.load_voc(tmp_path / "a", split=n).samples) for n in synth.STUDY_SPLIT_NAMES
    ]
    assert sizes == list(synth.split_sizes(12)) and sum(sizes) == 12
    assert synth.split_sizes(150) == (110, 20, 20)


def test_labels_outside_the_given_classes(tmp_path):
    write_image(tmp_path / "a.jpg")
    write_xml(tmp_path, "a", [("car", 1, 2, 30, 40), ("bus", 3, 4, 5, 6)])
    found = datasets.load_voc(tmp_path)
    with pytest.raises(InputError, match=r"a\.jpg: class 'bus' is not one of \['car', 'truck'\]"):
        datasets.make_set(list(found.samples), ("car", "truck"))


def test_editing_one_annotation_changes_the_dataset_fingerprint(tmp_path):
    write_image(tmp_path / "a.jpg")
    xml = write_xml(tmp_path, "a", [("car", 1, 2, 30, 40)])
    before = path_fingerprint(tmp_path)
    assert path_fingerprint(tmp_path) == before
    xml.write_text(xml.read_text().replace("<xmax>30</xmax>", "<xmax>31</xmax>"))
    assert path_fingerprint(tmp_path) != before


def test_seeded_split_of_a_folder_without_split_files(tmp_path):
    flat = user_voc_folder(tmp_path, 15)
    found = splits.split(flat, None, seed=0, labels=None)
    parts = [found[name].samples for name in ("train", "val", "test")]
    assert [len(p) for p in parts] == [11, 2, 2]
    names = [s.image_path.name for p in parts for s in p]
    assert sorted(names) == sorted(p.name for p in flat.glob("*.jpg"))
    assert splits.split(flat, None, seed=0, labels=None)["test"] == found["test"]  # seeded
    assert found["train"].classes == ("car", "truck") and len(found["all"].samples) == 15
    splits.write(found, tmp_path / "splits.json")
    assert splits.read(tmp_path / "splits.json", "test") == found["test"]


def test_a_voc_directory_keeps_its_own_splits(tmp_path):
    synth.generate(tmp_path / "voc", images=10, image_size=64, seed=1)
    found = splits.split(tmp_path / "voc", None, seed=5, labels=("trouser", "bag"))
    listed = (tmp_path / "voc/ImageSets/Main/test.txt").read_text().split()
    assert [s.image_path.stem for s in found["test"].samples] == listed
    assert found["test"].classes == ("trouser", "bag")
