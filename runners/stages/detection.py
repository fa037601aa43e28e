"""`detection`: hand a detection variant to `runners.detection.run_variant` and keep what it
returns; the generic compile stage then analyses its `.tflite`."""

from __future__ import annotations

from pathlib import Path

from tpulens.runners.stages import StepResult


def run(config: dict, inputs: dict, out_dir: Path, ctx) -> StepResult:
    from tpulens.runners import detection

    result = detection.run_variant(dict(config["params"]), ctx.cache_dir / "detection", ctx.profile)
    tflite = (result.get("artifacts") or {}).get("tflite")
    outputs = {"tflite": str(Path(tflite).resolve())} if tflite else {}
    metrics = {k: v for k, v in (result.get("metrics") or {}).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return StepResult(outputs=outputs, metrics=metrics,
                      metric_info=dict(result.get("metric_info") or {}),
                      notes=[str(n) for n in result.get("notes") or []],
                      info={"artifacts": {k: str(v) for k, v in
                                          (result.get("artifacts") or {}).items() if v}})
