"""Synthetic analyses shaped like real networks (branches, joins, a partition cut), for the op
graph's tests and `make bench`. Placements follow TFLite's partitioning: every op that reads,
directly or not, the first unsupported op leaves the Edge TPU with it as root cause."""

from __future__ import annotations

import random

import sample_results as sample


def op(index: int, opcode: str, inputs: list[str], output: str, **verdict) -> dict:
    """One op reading `inputs` (tensor names) and writing `output`."""
    out = sample.op(index, opcode, "TPU", sample.MAPPED, name=output)
    out.update(verdict)
    out["inputs"] = list(inputs)
    out["input_tensors"] = [{"name": n, "dtype": "INT8", "shape": [1, 8, 8, 4]} for n in inputs]
    return out


def cpu(reason: str = "UNSUPPORTED_OP", root_cause: int | None = None) -> dict:
    """The verdict fields of an op left on the CPU."""
    status = sample.AFTER if root_cause is not None else sample.UNSUPPORTED
    return {
        "placement": "CPU",
        "status": status,
        "reason_code": reason,
        "root_cause": root_cause,
        "explanation": "stays on the CPU",
        "fix": "replace it",
    }


def branching_analysis(name: str, n_ops: int, cut_at: float = 0.75, seed: int = 0) -> dict:
    """About n_ops ops in residual blocks (4 ops and an ADD joining the skip) and three-way
    branches joined by a CONCATENATION; the first op past `cut_at` of the way is an unsupported
    CUSTOM op, and every op fed by it follows it to the CPU. Every 50th op is low-confidence."""
    rng = random.Random(seed)
    ops: list[dict] = []
    cut: int | None = None
    tainted: set[str] = set()  # tensors computed on the CPU side of the cut

    def add(opcode: str, inputs: list[str]) -> str:
        nonlocal cut
        index = len(ops)
        output = f"block_{index // 5}/{opcode.lower()}_{index}"
        if cut is None and index >= n_ops * cut_at:
            cut = index
            entry = op(index, "CUSTOM", inputs, output, custom_code="MyCustomOp", **cpu())
        elif any(t in tainted for t in inputs):
            entry = op(index, opcode, inputs, output, **cpu("AFTER_PARTITION", cut))
        else:
            entry = op(index, opcode, inputs, output)
        if entry["placement"] == "CPU":
            tainted.add(output)
        if index % 50 == 49:
            entry["confidence"] = "low"
            entry["confidence_reason"] = "near an empirical size limit"
        ops.append(entry)
        return output

    last = add("QUANTIZE", ["input"])
    while len(ops) < n_ops:
        if rng.random() < 0.2:
            heads = [add("RELU", [add("CONV_2D", [last])]) for _ in range(3)]
            last = add("CONCATENATION", heads)
        else:
            body = last
            for opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D"):
                body = add(opcode, [body])
            last = add("ADD", [body, last])
    return sample.analysis(name, ops)
