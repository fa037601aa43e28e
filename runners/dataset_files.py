"""Where a dataset's files are and what they hold, without loading them (no numpy): what
planning and `tpulens run --check` need."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tpulens.errors import InputError

DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = {"train_images": "train-images-idx3-ubyte",
                 "train_labels": "train-labels-idx1-ubyte",
                 "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def debian_fashion_mnist_dir() -> Path:
    """Where Debian's dataset-fashion-mnist put its IDX files (asks dpkg, then the default)."""
    try:
        listing = subprocess.run(["dpkg", "-L", DEBIAN_PACKAGE], capture_output=True, text=True,
                                 check=False).stdout.splitlines()
    except OSError:
        listing = []
    for line in listing:
        if line.endswith(FASHION_FILES["train_images"] + ".gz") or line.endswith(
                FASHION_FILES["train_images"]):
            return Path(line).parent
    if DEBIAN_DEFAULT_DIR.is_dir():
        return DEBIAN_DEFAULT_DIR
    raise InputError(f"Fashion-MNIST not found: install the Debian package {DEBIAN_PACKAGE} "
                     "(make setup does) or set `path` in the dataset table")


def resolve_path(table: dict, base: Path) -> Path:
    """The dataset's directory: `path` (relative to benchmarks.toml) or Debian's Fashion-MNIST."""
    if table.get("path"):
        path = Path(table["path"])
        return path if path.is_absolute() else (base / path).resolve()
    if table["kind"] == "fashion_mnist":
        return debian_fashion_mnist_dir()
    raise InputError(f"dataset {table.get('id')!r}: `path` is required for kind "
                     f"{table['kind']!r}")


def fingerprint(table: dict) -> list:
    """(name, size, mtime) of the dataset's files, so a changed dataset re-runs its steps."""
    root = Path(table["path"])
    if not root.exists():
        raise InputError(f"dataset {table.get('id')!r}: {root} does not exist")
    return path_fingerprint(root)


def path_fingerprint(root: Path) -> list:
    """(name, size, mtime) of a file or of every file under a directory, without reading
    them: editing one annotation or replacing a model changes it."""
    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    return [[str(p.relative_to(root)) if root.is_dir() else p.name, p.stat().st_size,
             p.stat().st_mtime_ns] for p in files]
