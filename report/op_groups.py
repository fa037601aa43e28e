"""Repeated op rows folded into one row per op type and status, each expandable to its ops.

A model with nothing on the Edge TPU (a float model, a model the compiler rejects) lists the same
status for hundreds of ops; their order carries no partition to read, so the page shows one row
per (op type, status) with a count, and the ops themselves one click away.
"""

from __future__ import annotations

from dataclasses import dataclass

from tpulens.analyzer.vocabulary import Placement
from tpulens.report.ops import op_type


@dataclass(frozen=True)
class OpGroup:
    opcode: str  # the custom code for a custom op, as the compiler's table names it
    status: str
    placement: str
    ops: tuple[dict, ...]  # in execution order
    reason_codes: tuple[str, ...]  # distinct, in order of first appearance
    fixes: tuple[str, ...]  # distinct non-empty fixes, in order of first appearance

    @property
    def count(self) -> int:
        return len(self.ops)

    @property
    def indexes(self) -> list[int]:
        return [op["index"] for op in self.ops]


def group_ops(ops: list[dict]) -> list[OpGroup]:
    """One group per (op type, status), in order of first appearance."""
    members: dict[tuple[str, str], list[dict]] = {}
    for op in ops:
        members.setdefault((op_type(op), op["status"]), []).append(op)
    return [
        OpGroup(
            opcode,
            status,
            group[0]["placement"],
            tuple(group),
            tuple(dict.fromkeys(op["reason_code"] for op in group)),
            tuple(dict.fromkeys(op["fix"] for op in group if op["fix"])),
        )
        for (opcode, status), group in members.items()
    ]


def rows_repeat(ops: list[dict]) -> bool:
    """Whether the op table should be grouped: no op reaches the Edge TPU, so every row says
    the same few things."""
    return bool(ops) and not any(op["placement"] == Placement.TPU for op in ops)
