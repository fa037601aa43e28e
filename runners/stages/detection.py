"""`detection`: hand a detection variant to `runners.detection.run_variant` (owned by the
detection helper) and keep what it returns; the generic compile stage then analyses its
`.tflite`."""

from __future__ import annotations

import importlib
from pathlib import Path

from runners.stages import StepResult


def run(config: dict, inputs: dict, out_dir: Path, ctx) -> StepResult:
    try:
        detection = importlib.import_module("runners.detection")
        run_variant = detection.run_variant
    except (ImportError, AttributeError) as err:
        raise RuntimeError(f"runners.detection.run_variant is not available yet: {err}") from None
    result = run_variant(dict(config["params"]), ctx.cache_dir / "detection", ctx.profile)
    tflite = (result.get("artifacts") or {}).get("tflite")
    outputs = {"tflite": str(Path(tflite).resolve())} if tflite else {}
    metrics = {k: v for k, v in (result.get("metrics") or {}).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return StepResult(outputs=outputs, metrics=metrics,
                      metric_info=dict(result.get("metric_info") or {}),
                      notes=[str(n) for n in result.get("notes") or []],
                      info={"artifacts": {k: str(v) for k, v in
                                          (result.get("artifacts") or {}).items() if v}})
