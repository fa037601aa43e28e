"""Split a subgraph into delegate partitions the way TFLite (and so the Edge TPU compiler) does.

TFLite's PartitionGraphIntoIndependentNodeSubsets (tensorflow/lite/graph_info.cc) walks the graph
in epochs: each epoch takes every op whose inputs are ready and whose kind (mappable or not)
matches the epoch's kind, which is set by the first ready op in execution order. Epochs
alternate CPU/TPU. The compiler maps the first TPU epoch only (all of them with -a); this is why
CPU ops may lead the model, and why a branch that joins after a CPU op falls out of the TPU
subgraph.

TFLite rescans the whole op list until nothing changes, which is quadratic on a long chain of
alternating ops. Here each op counts the producers it still waits for, so every op and every
edge is visited once: the epochs are the same, the work is linear in the graph's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from tpulens.analyzer.model import Subgraph

NO_EPOCH = -1  # an op that can never run: it waits, directly or not, on its own result


class Dataflow(NamedTuple):
    """Who writes each tensor and which ops feed which, computed once per subgraph."""

    producer: dict[int, int]  # tensor index -> the op that writes it
    feeds: tuple[tuple[int, ...], ...]  # op -> the ops that read any of its results
    waits_for: tuple[int, ...]  # op -> how many distinct ops produce its inputs
    order: tuple[int, ...]  # every op that can run, producers before readers
    stuck: tuple[int, ...]  # ops that can never run: in a cycle or fed by one

    @property
    def has_cycle(self) -> bool:
        return bool(self.stuck)


def producers(subgraph: Subgraph) -> dict[int, int]:
    """tensor index -> index of the op that writes it."""
    return {t: op.index for op in subgraph.operators for t in op.outputs if t >= 0}


def dataflow(subgraph: Subgraph) -> Dataflow:
    made = producers(subgraph)
    ops = subgraph.operators
    feeds: list[list[int]] = [[] for _ in ops]
    waits = []
    for reader, op in enumerate(ops):
        writers = 0
        for t in op.inputs:
            writer = made.get(t)
            if writer is None:
                continue
            readers = feeds[writer]
            # Readers are added in order: a writer met again for this reader has it last.
            if not readers or readers[-1] != reader:
                readers.append(reader)
                writers += 1
        waits.append(writers)
    order = _topological(feeds, list(waits))
    stuck: tuple[int, ...] = ()
    if len(order) < len(ops):  # some ops wait, directly or not, on their own results
        placed = set(order)
        stuck = tuple(i for i in range(len(ops)) if i not in placed)
    return Dataflow(made, tuple(map(tuple, feeds)), tuple(waits), tuple(order), stuck)


def _topological(feeds: Sequence[Sequence[int]], waiting: list[int]) -> list[int]:
    """Kahn's algorithm, taking ready ops in execution-list order where it can."""
    ready = [i for i, w in enumerate(waiting) if w == 0]
    order: list[int] = []
    while ready:
        i = ready.pop()
        order.append(i)
        for j in feeds[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)
    return order


def epochs(flow: Dataflow, mappable: Sequence[bool]) -> list[int]:
    """The epoch (partition number, in execution order) of every op; NO_EPOCH for stuck ops.

    An epoch ends when no op of its kind is ready, so every op still ready is of the other
    kind, and the next epoch is always of the other kind: only the first epoch's kind needs
    the rule "the first ready op in execution order decides". With ops of one kind only (a
    float model's, a model that maps whole), the first epoch takes every op that can run."""
    if all(mappable) or not any(mappable):
        epoch_of = [0] * len(mappable)
        for i in flow.stuck:
            epoch_of[i] = NO_EPOCH
        return epoch_of
    waiting, feeds = list(flow.waits_for), flow.feeds
    ready: tuple[list[int], list[int]] = ([], [])  # by kind: ready[True] are mappable
    for i, w in enumerate(waiting):
        if w == 0:
            ready[mappable[i]].append(i)
    epoch_of = [NO_EPOCH] * len(waiting)
    if not ready[True] and not ready[False]:
        return epoch_of
    kind = mappable[min(ready[True] + ready[False])]
    epoch = 0
    while ready[kind]:
        queue = ready[kind]
        while queue:
            i = queue.pop()
            epoch_of[i] = epoch
            for j in feeds[i]:
                waiting[j] -= 1
                if waiting[j] == 0:
                    ready[mappable[j]].append(j)
        epoch += 1
        kind = not kind
    return epoch_of


def descendants(flow: Dataflow, subgraph: Subgraph, tensors: Iterable[int]) -> set[int]:
    """Ops that read any of `tensors`, directly or through other ops."""
    wanted = set(tensors)
    start = [op.index for op in subgraph.operators if any(t in wanted for t in op.inputs)]
    return _reach(start, flow.feeds)


def live_ops(flow: Dataflow, subgraph: Subgraph) -> set[int]:
    """Ops whose results reach a subgraph output (every op when the outputs are not listed),
    found by walking from the outputs' producers to the producers of their inputs."""
    if not subgraph.outputs:
        return {op.index for op in subgraph.operators}
    producer, operators = flow.producer, subgraph.operators
    stack = [producer[t] for t in subgraph.outputs if t in producer]
    live = set(stack)
    while stack:
        for t in operators[stack.pop()].inputs:
            writer = producer.get(t)
            if writer is not None and writer not in live:
                live.add(writer)
                stack.append(writer)
    return live


def _reach(start: Iterable[int], edges: Sequence[Sequence[int]]) -> set[int]:
    seen = set(start)
    stack = list(seen)
    while stack:
        for j in edges[stack.pop()]:
            if j not in seen:
                seen.add(j)
                stack.append(j)
    return seen


def root_causes(flow: Dataflow, subgraph: Subgraph, is_cause: Sequence[bool]) -> list[int | None]:
    """For every op, the earliest op with is_cause[op] among its ancestors (None if none)."""
    cause: list[int | None] = [None] * len(subgraph.operators)
    feeds = flow.feeds
    for i in flow.order:
        found = i if is_cause[i] else cause[i]
        if found is None:
            continue
        for j in feeds[i]:
            if cause[j] is None or found < cause[j]:
                cause[j] = found
    return cause
