"""Pipeline stages. Each module has `run(config, inputs, out_dir, ctx) -> StepResult` and
imports TensorFlow only inside its functions, so planning and cached runs never load it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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
