"""Where numbers were measured: versions, CPU, threads, Edge TPU runtime; and the git commit."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path


def environment(threads: int, edgetpu_runtime: str | None) -> dict:
    return {"python": platform.python_version(),
            "tensorflow": _version("tensorflow-cpu") or _version("tensorflow"),
            "ai_edge_litert": _version("ai-edge-litert"), "cpu": cpu_name(),
            "machine": platform.machine(), "threads": threads,
            "edgetpu_runtime": edgetpu_runtime}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(directory: Path) -> str | None:
    try:
        proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=directory,
                              capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None


def git_dirty(directory: Path, ignore: Path) -> bool | None:
    """Whether tracked files differ from the commit, outside `ignore` (the results being
    written); None outside a git checkout."""
    try:
        proc = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                               ":/", f":(exclude){Path(ignore).resolve()}"], cwd=directory,
                              capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return bool(proc.stdout.strip()) if proc.returncode == 0 else None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
