"""Repeated op rows folded into expandable rows, so a long op table reads in a few screens.

A model with nothing on the Edge TPU (a float model, a model the compiler rejects) lists the same
status for hundreds of ops; their order carries no partition to read, so the page shows one row
per (op type, status) with a count (`group_ops`). Any other model keeps execution order but folds
each long run of consecutive ops that share placement, status and root cause, such as the CPU
tail after the partition cut (`fold_runs`); the ops a reader looks for first, root causes and
low-confidence verdicts, keep their own rows.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

from tpulens.analyzer.vocabulary import Confidence, Placement

MIN_RUN = 3  # a shorter run stays as rows: its summary row would save nothing
TYPES_SHOWN = 4  # op types named in a mixed run's summary; the rest are counted


def op_id(subgraph: object, index: object) -> str:
    """The id of the op's table row, and the fragment every link to the op uses."""
    return f"op-{subgraph}-{index}"


def op_type(op: dict) -> str:
    """The op's kind as the compiler's table names it: the custom code for a custom op."""
    return op["custom_code"] if op["opcode"] == "CUSTOM" and op["custom_code"] else op["opcode"]


def root_cause_counts(ops: list[dict]) -> dict[tuple, int]:
    """How many ops each root-cause op pushed off the TPU partition, by (subgraph, index)."""
    counts: dict[tuple, int] = {}
    for op in ops:
        if op["root_cause"] is not None:
            key = (op["subgraph"], op["root_cause"])
            counts[key] = counts.get(key, 0) + 1
    return counts


@dataclass(frozen=True)
class OpGroup:
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

    @property
    def opcode(self) -> str:
        """The op type (the custom code for a custom op), or for a run of mixed types the most
        frequent ones with their counts: "CONV_2D ×60, MUL ×50, …"."""
        counts = Counter(op_type(op) for op in self.ops).most_common()
        if len(counts) == 1:
            return counts[0][0]
        named = [f"{name} ×{n}" for name, n in counts[:TYPES_SHOWN]]
        rest = sum(n for _, n in counts[TYPES_SHOWN:])
        return ", ".join(named + [f"{rest} other"] * bool(rest))

    @property
    def root_cause(self) -> int | None:
        """The root cause the group's ops share (None when they have none or differ)."""
        causes = {op["root_cause"] for op in self.ops}
        return causes.pop() if len(causes) == 1 else None


def _group(ops: list[dict]) -> OpGroup:
    return OpGroup(
        ops[0]["status"],
        ops[0]["placement"],
        tuple(ops),
        tuple(dict.fromkeys(op["reason_code"] for op in ops)),
        tuple(dict.fromkeys(op["fix"] for op in ops if op["fix"])),
    )


def group_ops(ops: list[dict]) -> list[OpGroup]:
    """One group per (op type, status), in order of first appearance."""
    members: dict[tuple[str, str], list[dict]] = {}
    for op in ops:
        members.setdefault((op_type(op), op["status"]), []).append(op)
    return [_group(group) for group in members.values()]


def rows_repeat(ops: list[dict]) -> bool:
    """Whether the op table should be grouped by type: no op reaches the Edge TPU, so every row
    says the same few things."""
    return bool(ops) and not any(op["placement"] == Placement.TPU for op in ops)


def fold_runs(ops: list[dict], pinned: set[tuple[int, int]]) -> list[OpGroup]:
    """The ops in execution order cut into runs of consecutive ops with the same subgraph,
    placement, status and root cause; a pinned op ((subgraph, index), e.g. a root cause) is
    a run of its own. Runs of MIN_RUN ops or more are the ones to fold."""
    def key(numbered: tuple[int, dict]) -> tuple:
        n, op = numbered
        if (op["subgraph"], op["index"]) in pinned or op["confidence"] == Confidence.LOW:
            return ("pinned", n)
        return (op["subgraph"], op["placement"], op["status"], op["root_cause"])

    return [
        _group([op for _, op in run])
        for _, run in itertools.groupby(enumerate(ops), key=key)
    ]
