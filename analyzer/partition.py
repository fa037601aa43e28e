"""Split a subgraph into delegate partitions the way TFLite (and so the Edge TPU compiler) does.

TFLite's PartitionGraphIntoIndependentNodeSubsets walks the graph in epochs: each epoch takes
every op whose inputs are ready and whose kind (mappable or not) matches the epoch's kind, which
is set by the first ready op. Epochs alternate CPU/TPU. The compiler maps the first TPU epoch
only (all of them with -a); this is why CPU ops may lead the model, and why a branch that joins
after a CPU op falls out of the TPU subgraph.
"""

from __future__ import annotations

from collections.abc import Sequence

from tpulens.analyzer.model import Subgraph


def producers(subgraph: Subgraph) -> dict[int, int]:
    """tensor index -> index of the op that writes it."""
    return {t: op.index for op in subgraph.operators for t in op.outputs if t >= 0}


def epochs(subgraph: Subgraph, mappable: Sequence[bool]) -> list[int]:
    """The epoch (partition number, in execution order) of every op."""
    ops = subgraph.operators
    made = producers(subgraph)
    ready_tensor = {t: False for t in made}
    epoch_of = [-1] * len(ops)
    pending = list(range(len(ops)))
    epoch = 0
    while pending:
        kind = None
        changed = True
        while changed:
            changed = False
            still = []
            for i in pending:
                op = ops[i]
                if any(t >= 0 and not ready_tensor.get(t, True) for t in op.inputs):
                    still.append(i)
                    continue
                if kind is None:
                    kind = mappable[i]
                if mappable[i] != kind:
                    still.append(i)
                    continue
                epoch_of[i] = epoch
                for t in op.outputs:
                    if t >= 0:
                        ready_tensor[t] = True
                changed = True
            pending = still
        if kind is None:  # a cycle or a dangling input: leave the rest on the CPU
            for i in pending:
                epoch_of[i] = epoch
            break
        epoch += 1
    return epoch_of


def descendants(subgraph: Subgraph, tensors: set[int]) -> set[int]:
    """Ops that read any of `tensors`, directly or through other ops."""
    reached: set[int] = set()
    live = set(tensors)
    for op in subgraph.operators:  # execution order is a topological order
        if any(t in live for t in op.inputs):
            reached.add(op.index)
            live.update(t for t in op.outputs if t >= 0)
    return reached


def live_ops(subgraph: Subgraph) -> set[int]:
    """Ops whose results reach a subgraph output; the compiler drops the others."""
    if not subgraph.outputs:
        return {op.index for op in subgraph.operators}
    needed = set(subgraph.outputs)
    live = set()
    for op in reversed(subgraph.operators):
        if any(t in needed for t in op.outputs):
            live.add(op.index)
            needed.update(t for t in op.inputs if t >= 0)
    return live


def root_causes(subgraph: Subgraph, is_cause: Sequence[bool]) -> list[int | None]:
    """For every op, the earliest op with is_cause[op] among its ancestors (None if none)."""
    made = producers(subgraph)
    cause: list[int | None] = [None] * len(subgraph.operators)
    for op in subgraph.operators:
        found = [c for t in op.inputs if t in made
                 for c in ((made[t],) if is_cause[made[t]] else (cause[made[t]],))
                 if c is not None]
        cause[op.index] = min(found) if found else None
    return cause
