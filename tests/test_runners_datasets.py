"""Dataset loaders on small files written by the tests."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from tpulens.errors import InputError
from tpulens.runners import dataset_files, datasets


def idx_bytes(array: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx_dir(root, n_train=20, n_test=10, gz=True):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 6, 5), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 3).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 6, 5), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 3).astype(np.uint8),
    }
    root.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (root / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (root / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_idx_directory_roundtrip(tmp_path, gz):
    arrays = write_idx_dir(tmp_path / "d", gz=gz)
    split = datasets.load_idx_dataset(tmp_path / "d")
    assert split.x_train.shape == (20, 6, 5, 1) and split.x_test.shape == (10, 6, 5, 1)
    np.testing.assert_array_equal(split.x_train[..., 0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(split.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert split.class_names == ["0", "1", "2"]


def test_idx_big_endian_ints_and_bad_files(tmp_path):
    values = np.arange(6, dtype=">i4").reshape(2, 3)
    (tmp_path / "a.idx").write_bytes(idx_bytes(values))
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "a.idx"), values)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(InputError, match="bad magic"):
        datasets.read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(idx_bytes(values)[:-4])
    with pytest.raises(InputError, match="header says"):
        datasets.read_idx(tmp_path / "short")
    with pytest.raises(InputError, match="missing train-labels-idx1-ubyte"):
        (tmp_path / "partial").mkdir()
        (tmp_path / "partial" / "train-images-idx3-ubyte").write_bytes(idx_bytes(
            np.zeros((1, 2, 2), np.uint8)))
        datasets.load_idx_dataset(tmp_path / "partial")


def test_debian_fashion_mnist_is_found():
    directory = dataset_files.debian_fashion_mnist_dir()
    train = datasets.read_idx(datasets.find_idx_file(directory, "train-labels-idx1-ubyte"))
    assert train.shape == (60000,) and set(np.unique(train)) == set(range(10))


def test_image_folder_split_is_stratified_and_deterministic(tmp_path):
    from PIL import Image

    for cls, value in (("cat", 30), ("dog", 200)):
        (tmp_path / cls).mkdir()
        for i in range(5):
            Image.new("RGB", (10, 7), (value, value, i)).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    first = datasets.load_image_folder(tmp_path, (4, 6), grayscale=False, test_fraction=0.4,
                                       seed=3)
    again = datasets.load_image_folder(tmp_path, (4, 6), grayscale=False, test_fraction=0.4,
                                       seed=3)
    assert first.class_names == ["cat", "dog"]
    assert first.x_train.shape == (6, 4, 6, 3) and first.x_test.shape == (4, 4, 6, 3)
    assert sorted(first.y_test.tolist()) == [0, 0, 1, 1]
    np.testing.assert_array_equal(first.x_test, again.x_test)
    gray = datasets.load_image_folder(tmp_path, (4, 6), grayscale=True, test_fraction=0.4,
                                      seed=3)
    assert gray.x_train.shape[-1] == 1 and int(gray.x_train[gray.y_train == 1].min()) > 100


def test_image_folder_with_train_test_subfolders(tmp_path):
    from PIL import Image

    for part in ("train", "test"):
        for cls in ("a", "b"):
            (tmp_path / part / cls).mkdir(parents=True)
            Image.new("L", (3, 3), 9).save(tmp_path / part / cls / "x.png")
    split = datasets.load_image_folder(tmp_path, (3, 3), True, 0.5, 0)
    assert len(split.x_train) == 2 and len(split.x_test) == 2


def test_prepared_subsets_normalises_and_pads(tmp_path):
    write_idx_dir(tmp_path / "d", n_train=20, n_test=10)
    table = {"kind": "idx", "path": str(tmp_path / "d"), "train_samples": 8, "test_samples": 0,
             "seed": 0}
    split = datasets.prepared(table, input_size=8)
    assert split.x_train.shape == (8, 8, 8, 1) and split.x_test.shape == (10, 8, 8, 1)
    assert split.x_train.dtype == np.float32 and 0.0 <= split.x_train.min() <= 1.0
    assert split.x_train[:, 0, :, :].max() == 0.0  # zero padding at the top
    again = datasets.prepared(table, input_size=8)
    np.testing.assert_array_equal(split.y_train, again.y_train)


def test_fit_to_size_resizes_when_padding_is_not_enough():
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    assert datasets.fit_to_size(x, 32).shape == (3, 32, 32, 1)
    resized = datasets.fit_to_size(x, 42)
    assert resized.shape == (3, 42, 42, 1) and resized.dtype == np.float32
    assert abs(float(resized.mean()) - float(x.mean())) < 0.05


def test_representative_samples_are_seeded_draws():
    x = np.arange(100).reshape(100, 1)
    a, b = datasets.representative(x, 10), datasets.representative(x, 10)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a)) == 10 and len(datasets.representative(x, 500)) == 100


def test_keras_loader_reports_unknown_dataset():
    pytest.importorskip("tensorflow")
    with pytest.raises(InputError, match="no dataset 'nope'"):
        datasets.load_keras_dataset("nope")
