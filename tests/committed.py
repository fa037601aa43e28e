"""The results committed at HEAD, extracted with git archive: what tests compare against. Never
the working tree's results/, which `make report` rewrites."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def committed_results(dest: Path) -> Path:
    """results/ as committed at HEAD, under `dest`; skips the test outside a git checkout."""
    try:
        archive = subprocess.run(["git", "archive", "--format=tar", "HEAD", "--", "results"],
                                 cwd=REPO, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the committed results need a git checkout of the repository")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "results"
