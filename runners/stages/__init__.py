"""Pipeline stages. Each module has `run(config, inputs, out_dir, ctx) -> StepResult` and
imports TensorFlow only inside its functions, so planning and cached runs never load it.

To add a stage: a module here with `run`, its name in STAGES, and a planner in plan.py that
adds its steps; its cache key follows its code (runners.code_keys) without a version to bump.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

STAGES = ("fetch", "extract", "train", "optimize", "convert", "compile", "evaluate",
          "detection_dataset", "detection_train", "detection_export", "detection_evaluate")


def stage_module(name: str) -> ModuleType:
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r} (stages: {', '.join(STAGES)})")
    return importlib.import_module(f"{__name__}.{name}")


class StepSkipped(Exception):
    """The step cannot run here for a reason outside the suite (no registry, no package)."""


@dataclass
class Context:
    """What a step may know about the run besides its own config and inputs."""

    cache_dir: Path
    profile: str
    threads: int


@dataclass
class StepResult:
    """What a stage produced: files (absolute paths), numbers, provenance and notes."""

    outputs: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    metric_info: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    info: dict = field(default_factory=dict)
