"""What every part of a diagnostics page says about one op of a normalized analysis: its anchor
id, its type, and how many later ops it pushed off the Edge TPU."""

from __future__ import annotations


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
