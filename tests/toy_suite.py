"""The toy suite of the pipeline tests: two variants (float32, int8) of a tiny CNN on an 8×8
three-class set generated here, trained in seconds."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

SUITE = """
schema_version = 1

[profiles.quick]
train_samples = 0
test_samples = 0
eval_train_samples = 60
calibration_samples = 8
epochs = 3
finetune_epochs = 1
batch_size = 16
latency_warmup = 2
latency_runs = 10

[datasets.toy]
kind = "idx"
path = "toy"

[models.tiny]
builder = "small_cnn"
input_size = 8
filters = [4]

[experiments.toy]
kind = "classification"
dataset = "toy"
defaults = { train = { model = "tiny", learning_rate = 0.01 } }

[[experiments.toy.variants]]
name = "float32"
compress = { method = "float32" }

[[experiments.toy.variants]]
name = "int8"
compress = { method = "int8", io = "uint8" }
evaluate = { objective_baseline = "float32" }
"""


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def write_suite(root: Path, text: str = SUITE) -> Path:
    """A learnable toy set: the class is the bright quadrant of an 8×8 image."""
    rng = np.random.default_rng(0)
    toy = root / "toy"
    toy.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", 120), ("t10k", 60)):
        labels = np.arange(n) % 3
        images = rng.integers(0, 60, (n, 8, 8))
        for i, label in enumerate(labels):
            r, c = divmod(int(label), 2)
            images[i, r * 4:(r + 1) * 4, c * 4:(c + 1) * 4] += 180
        (toy / f"{prefix}-images-idx3-ubyte.gz").write_bytes(_idx(images))
        (toy / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(_idx(labels))
    path = root / "benchmarks.toml"
    path.write_text(text)
    return path


def copy_toy(toy_root: Path, dest: Path) -> Path:
    """A private copy of the built toy suite (suite, records, history, cache) at `dest`; its
    data folder links to the original, so the step keys (which name the data's resolved path)
    are the same and the copy is up to date. Returns the copy's suite path."""
    shutil.copytree(toy_root, dest, symlinks=True, dirs_exist_ok=True,
                    ignore=lambda folder, names: ["toy"] if Path(folder) == toy_root else [])
    (dest / "toy").symlink_to(toy_root / "toy")
    return dest / "benchmarks.toml"


def keep_only_training(root: Path) -> None:
    """Drop a copy's records, worker logs and every cached step but the training: a run of it
    starts at once with the cheap steps (convert, compile, evaluate), the ones a kill test
    interrupts."""
    shutil.rmtree(root / "results")
    shutil.rmtree(root / ".cache" / "tpulens" / "logs", ignore_errors=True)
    for step in (root / ".cache" / "tpulens" / "steps").iterdir():
        if not step.name.startswith("train-"):
            shutil.rmtree(step)


def unfinished_steps(cache_dir: Path) -> list[Path]:
    """Step directories without their manifest: steps being built, or left by a killed run."""
    return [d for d in cache_dir.glob("steps/*") if not (d / "manifest.json").exists()]


def start_run(suite: Path, *extra: str) -> subprocess.Popen:
    """`tpulens run` of the quick profile in its own process (for a test to kill)."""
    return subprocess.Popen([sys.executable, "-m", "tpulens.cli", "run", str(suite), "--profile",
                             "quick", "--no-progress", *extra], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())  # a zombie is dead
