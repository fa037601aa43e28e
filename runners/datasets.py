"""Datasets as numpy arrays: IDX files (Fashion-MNIST from Debian), image folders, keras.datasets.

Loaders return images as stored (uint8, shape (n, h, w, c)) and int64 labels; `prepared`
subsets first and only then converts to float32 in [0, 1]. Splits and subsets are deterministic
(seeded permutations), so every step that reads a dataset sees the same data.
"""

from __future__ import annotations

import functools
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tpulens.errors import InputError
from tpulens.runners.dataset_files import FASHION_FILES

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


@dataclass
class Split:
    """Train and test arrays plus class names."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip'd or not, into a numpy array."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise InputError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", count=ndim, offset=4).astype(int)
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise InputError(f"{path}: IDX header says {tuple(dims)} ({expected} bytes of data), "
                         f"file has {len(raw) - offset}")
    return np.frombuffer(raw, dtype, offset=offset).reshape(dims).astype(dtype.newbyteorder("="))


def find_idx_file(directory: Path, stem: str) -> Path:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.exists():
            return candidate
    raise InputError(f"{directory}: missing {stem} (or {stem}.gz)")


def load_idx_dataset(directory: Path) -> Split:
    """Fashion-MNIST-style directory of four IDX files."""
    directory = Path(directory)
    arrays = {k: read_idx(find_idx_file(directory, stem)) for k, stem in FASHION_FILES.items()}
    if len(arrays["train_images"]) != len(arrays["train_labels"]) or len(
            arrays["test_images"]) != len(arrays["test_labels"]):
        raise InputError(f"{directory}: image and label counts differ")
    n_classes = int(max(arrays["train_labels"].max(), arrays["test_labels"].max())) + 1
    return Split(_images(arrays["train_images"]), arrays["train_labels"].astype(np.int64),
                 _images(arrays["test_images"]), arrays["test_labels"].astype(np.int64),
                 [str(i) for i in range(n_classes)])


def load_image_folder(root: Path, image_size: tuple[int, int], grayscale: bool,
                      test_fraction: float, seed: int) -> Split:
    """`root/<class>/<image>` (or `root/train|test/<class>/...`): one class per folder."""
    from PIL import Image

    root = Path(root)
    if (root / "train").is_dir() and (root / "test").is_dir():
        classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
        x_tr, y_tr = _read_folder(root / "train", classes, image_size, grayscale, Image)
        x_te, y_te = _read_folder(root / "test", classes, image_size, grayscale, Image)
        return Split(x_tr, y_tr, x_te, y_te, classes)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise InputError(f"{root}: expected one sub-folder per class")
    x, y = _read_folder(root, classes, image_size, grayscale, Image)
    train_idx, test_idx = split_indices(y, test_fraction, seed)
    return Split(x[train_idx], y[train_idx], x[test_idx], y[test_idx], classes)


def _read_folder(root: Path, classes: list[str], size, grayscale: bool, image_module):
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((root / name).iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            with image_module.open(path) as img:
                img = img.convert("L" if grayscale else "RGB").resize((size[1], size[0]))
                images.append(np.asarray(img, dtype=np.uint8))
            labels.append(label)
    if not images:
        raise InputError(f"{root}: no images found (looked for {sorted(IMAGE_SUFFIXES)})")
    return _images(np.stack(images)), np.asarray(labels, dtype=np.int64)


def load_keras_dataset(name: str) -> Split:
    """A `keras.datasets` dataset (downloads on first use, so it needs a network)."""
    from tpulens.runners.tfsetup import import_tf

    tf = import_tf()
    module = getattr(tf.keras.datasets, name, None)
    if module is None:
        raise InputError(f"keras.datasets has no dataset {name!r}")
    (x_tr, y_tr), (x_te, y_te) = module.load_data()
    n_classes = int(max(y_tr.max(), y_te.max())) + 1
    return Split(_images(x_tr), y_tr.reshape(-1).astype(np.int64), _images(x_te),
                 y_te.reshape(-1).astype(np.int64), [str(i) for i in range(n_classes)])


def load(table: dict) -> Split:
    """Load the dataset a resolved dataset table describes."""
    kind = table["kind"]
    if kind in ("fashion_mnist", "idx"):
        return load_idx_dataset(Path(table["path"]))
    if kind == "image_folder":
        size = tuple(table.get("image_size", [32, 32]))
        return load_image_folder(Path(table["path"]), size, table.get("grayscale", False),
                                 table.get("test_fraction", 0.2), table.get("seed", 0))
    if kind == "keras":
        if not table.get("name"):
            raise InputError(f"dataset {table.get('id')!r}: kind 'keras' needs `name`")
        return load_keras_dataset(table["name"])
    raise InputError(f"unknown dataset kind {kind!r}")


def split_indices(labels: np.ndarray, test_fraction: float, seed: int):
    """A seeded, stratified train/test split of indices."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_test = max(1, round(len(idx) * test_fraction)) if len(idx) > 1 else 0
        test.extend(idx[:n_test])
        train.extend(idx[n_test:])
    return np.sort(np.asarray(train, dtype=int)), np.sort(np.asarray(test, dtype=int))


def subset(x: np.ndarray, y: np.ndarray, n: int, seed: int):
    """The first n of a seeded permutation (all when n <= 0 or n >= len)."""
    if n <= 0 or n >= len(x):
        return x, y
    idx = np.sort(np.random.default_rng(seed).permutation(len(x))[:n])
    return x[idx], y[idx]


def representative(x: np.ndarray, n: int, seed: int = 1234) -> np.ndarray:
    """Calibration samples for full-integer quantization: a seeded random draw."""
    n = min(n, len(x))
    return x[np.random.default_rng(seed).choice(len(x), n, replace=False)]


def fit_to_size(x: np.ndarray, size: int) -> np.ndarray:
    """Pad (centred, zeros) or resize images to size×size, keeping the channel count."""
    h, w = x.shape[1:3]
    if (h, w) == (size, size):
        return x
    if h <= size and w <= size and size - h <= 4 and size - w <= 4:
        top, left = (size - h) // 2, (size - w) // 2
        return np.pad(x, ((0, 0), (top, size - h - top), (left, size - w - left), (0, 0)))
    from PIL import Image

    out = np.empty((len(x), size, size, x.shape[3]), dtype=np.float32)
    for i, img in enumerate(x):
        channels = [np.asarray(Image.fromarray(img[..., c]).resize((size, size),
                                                                   Image.BILINEAR))
                    for c in range(x.shape[3])]
        out[i] = np.stack(channels, axis=-1)
    return out


def prepared(table: dict, input_size: int | None) -> Split:
    """The dataset subset a profile asks for, fitted to the model's input size.

    Kept for the next step in the same worker (most steps of an experiment read the same
    subset at the same size; reading and fitting it costs 0.3-0.8 CPU-s a step), so the
    arrays are read-only."""
    return _prepared(json.dumps(table, sort_keys=True), input_size)


@functools.lru_cache(maxsize=2)
def _prepared(table_json: str, input_size: int | None) -> Split:
    table = json.loads(table_json)
    data = load(table)
    seed = table.get("seed", 0)
    x_tr, y_tr = subset(data.x_train, data.y_train, table["train_samples"], seed)
    x_te, y_te = subset(data.x_test, data.y_test, table["test_samples"], seed + 1)
    x_tr, x_te = to_float(x_tr), to_float(x_te)
    if input_size:
        x_tr, x_te = fit_to_size(x_tr, input_size), fit_to_size(x_te, input_size)
    arrays = (x_tr, y_tr, x_te, y_te)
    for array in arrays:
        array.flags.writeable = False
    return Split(*arrays, data.class_names)


def _images(arr: np.ndarray) -> np.ndarray:
    """Images as stored, with a channel axis."""
    return arr[..., None] if arr.ndim == 3 else arr


def to_float(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
