"""The analyzer's what-if outcomes (`summary.what_if`): how many ops would reach the Edge TPU with
other compiler options, and, for a float model, if it were fully int8-quantized.

Read defensively, as the rest of an analysis: a file written before what-ifs existed, or a
hand-edited one, gives no outcome rather than an error. Every outcome is a prediction of the
analyzer (no compiler ran with those options), and the sentences say so.
"""

from __future__ import annotations

from dataclasses import dataclass

INT8_LABEL = "if fully int8-quantized"  # the label docs/data-contracts.md gives that case


@dataclass(frozen=True)
class WhatIf:
    label: str  # "with -a", "if fully int8-quantized", ...
    flags: tuple[str, ...]
    ops_tpu: int
    ops_cpu: int
    ops_low_confidence: int | None
    blocking: tuple[str, ...]  # op types that would still stay on the CPU (int8 case)

    @property
    def ops(self) -> int:
        """The ops of that outcome: float conversions that full quantization removes are gone."""
        return self.ops_tpu + self.ops_cpu

    @property
    def is_int8(self) -> bool:
        return self.label == INT8_LABEL


def _count(value: object) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None


def what_ifs(summary: dict) -> list[WhatIf]:
    """The outcomes in the analyzer's order; malformed entries are skipped."""
    entries = summary.get("what_if")
    out = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("label"), str):
            continue
        tpu, cpu = _count(entry.get("ops_tpu")), _count(entry.get("ops_cpu"))
        if tpu is None or cpu is None:
            continue
        flags, blocking = entry.get("flags"), entry.get("blocking")
        out.append(
            WhatIf(
                entry["label"],
                tuple(f for f in flags if isinstance(f, str)) if isinstance(flags, list) else (),
                tpu,
                cpu,
                _count(entry.get("ops_low_confidence")),
                tuple(b for b in blocking if isinstance(b, str))
                if isinstance(blocking, list)
                else (),
            )
        )
    return out


def int8_outcome(summary: dict) -> WhatIf | None:
    return next((w for w in what_ifs(summary) if w.is_int8), None)


def sentence(outcome: WhatIf, ops_tpu_now: int) -> str:
    """One line for the page, e.g. "If fully int8-quantized: 380 of 384 ops on the Edge TPU
    (380 more than now), predicted; still on the CPU: ARG_MAX."."""
    label = outcome.label[:1].upper() + outcome.label[1:]
    gained = outcome.ops_tpu - ops_tpu_now
    change = (
        f"{gained} more than now"
        if gained > 0
        else f"{-gained} fewer than now"
        if gained < 0
        else "as many as now"
    )
    text = f"{label}: {outcome.ops_tpu} of {outcome.ops} ops on the Edge TPU ({change}), predicted"
    if outcome.ops_low_confidence:
        text += f", {outcome.ops_low_confidence} verdicts with low confidence"
    if outcome.blocking:
        text += "; still on the CPU: " + ", ".join(outcome.blocking)
    return text + "."
