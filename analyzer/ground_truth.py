"""What the real compiler did with each op of a CPU model, read from its compiled model.

The compiler keeps the names of the tensors at an Edge TPU subgraph's boundary and of every op
it leaves on the CPU. So an op of the CPU model ran on the CPU iff a non-custom op of the
compiled model produces one of its output tensor names; every other op went into an Edge TPU
subgraph. Before trusting that, `compiled_from_problem` checks that the compiled model was made
from this CPU model at all.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tpulens.analyzer.compiled import is_edgetpu_op, op_key
from tpulens.analyzer.vocabulary import Placement

# Where the ground-truth corpus of real compiler output sits: $TPULENS_CORPUS, else beside a
# checkout of this repository (the tests, benchmarks and fitting tools all read it from here).
CORPUS = Path(os.environ.get("TPULENS_CORPUS")
              or Path(__file__).resolve().parents[2] / "shared" / "corpus")


@dataclass
class PlacementTruth:
    """Per-op ground truth for a CPU model from its compiled model."""

    placement: dict  # (subgraph, index) -> Placement
    matched_by_shape: list = field(default_factory=list)  # CPU-model ops matched by shape
    unmatched: list = field(default_factory=list)  # compiled CPU ops with no CPU-model twin
    warnings: list = field(default_factory=list)


def _signature(sg, op) -> tuple:
    return (op.opcode, op.custom_code,
            tuple((t.dtype, t.shape) for t in sg.output_tensors(op)))


def match_placement(cpu_model, compiled_model) -> PlacementTruth:
    """Placement of every CPU-model op: CPU iff a non-custom op of the compiled model produces
    one of its output tensor names.

    A compiled CPU op whose outputs match no name (the CPU file was re-converted after
    compiling, so names drifted) falls back to the first still-unplaced CPU-model op with the
    same opcode and output dtypes/shapes, and is reported in `matched_by_shape`.
    """
    produced: dict[tuple[int, str], tuple] = {}
    leftovers = []
    for sg in compiled_model.subgraphs:
        for op in sg.operators:
            if is_edgetpu_op(op):
                continue
            leftovers.append((sg, op))
            for t in sg.output_tensors(op):
                produced[(sg.index, t.name)] = (sg.index, op.index)
    placement = {}
    used = set()
    for sg in cpu_model.subgraphs:
        for op in sg.operators:
            hits = [produced[(sg.index, t.name)] for t in sg.output_tensors(op)
                    if (sg.index, t.name) in produced]
            placement[(sg.index, op.index)] = Placement.CPU if hits else Placement.TPU
            used.update(hits)
    result = PlacementTruth(placement)
    for csg, cop in leftovers:
        if (csg.index, cop.index) in used:
            continue
        wanted = _signature(csg, cop)
        twin = None
        if csg.index < len(cpu_model.subgraphs):
            sg = cpu_model.subgraphs[csg.index]
            twin = next((op for op in sg.operators
                         if placement[(sg.index, op.index)] == Placement.TPU
                         and _signature(sg, op) == wanted), None)
        if twin is None:
            result.unmatched.append(f"{op_key(cop)} #{cop.index} (subgraph {csg.index})")
            continue
        placement[(csg.index, twin.index)] = Placement.CPU
        result.matched_by_shape.append((csg.index, twin.index))
    if result.matched_by_shape:
        result.warnings.append(
            f"{len(result.matched_by_shape)} CPU op(s) of the compiled model matched the CPU "
            f"model by opcode and output shape, not by tensor name: the CPU model may not be "
            f"the exact file that was compiled")
    if result.unmatched:
        result.warnings.append(
            "compiled CPU op(s) with no counterpart in the CPU model: "
            + ", ".join(result.unmatched))
    return result


def _io(model) -> list:
    """The model's input and output tensors (main subgraph), in order."""
    sg = model.subgraphs[0] if model.subgraphs else None
    if sg is None:
        return []
    return [sg.tensors[i] for i in (*sg.inputs, *sg.outputs) if 0 <= i < len(sg.tensors)]


def _shown(t) -> str:
    return f"{t.name!r} {t.dtype}[{','.join(str(d) for d in t.shape)}]"


def _same_tensor(cpu, compiled) -> bool:
    """Same dtype and shape; the compiler may fill in a shape the CPU model leaves unknown."""
    return cpu.dtype == compiled.dtype and (cpu.shape == compiled.shape or not cpu.shape)


# The parameters of the Edge TPU programs against the int8 weights of the ops they replaced:
# 1.00 to 1.33 over every corpus pair with more than 256 KiB of mapped weights (layout and
# padding only add bytes). Outside 0.9 to 2, the weights are another model's.
_PARAMETER_RATIO = (0.9, 2.0)
_WEIGHTS_CHECKED_FROM = 256 << 10


def _weights_problem(cpu_model, compiled_model) -> str | None:
    from tpulens.analyzer.compiled import custom_ops

    placement = match_placement(cpu_model, compiled_model).placement
    mapped = {(sg.index, t.index): t.buffer_size for sg in cpu_model.subgraphs
              for op in sg.operators if placement[(sg.index, op.index)] == Placement.TPU
              for t in sg.input_tensors(op) if t.is_constant}
    weights = sum(mapped.values())
    packages = {id(c.package): c.package for c in custom_ops(compiled_model) if c.package}
    parameters = sum(e.parameter_bytes for p in packages.values() for e in p.executables)
    low, high = _PARAMETER_RATIO
    if weights >= _WEIGHTS_CHECKED_FROM and parameters and not (
            low * weights <= parameters <= high * weights):
        return (f"its Edge TPU programs carry {parameters} bytes of parameters for "
                f"{weights} bytes of weights in the CPU model's mapped ops")
    return None


def compiled_from_problem(cpu_model, compiled_model) -> str | None:
    """Why `compiled_model` cannot have been compiled from `cpu_model`, or None if it can.

    The compiler keeps the model's input and output tensors and the tensors of the ops it
    leaves on the CPU (names, dtypes, shapes), carries the mapped ops' weights as parameters,
    and only removes ops: those left on the CPU are a part of the CPU model's, and all of them
    when it mapped nothing.
    """
    cpu_io, compiled_io = _io(cpu_model), _io(compiled_model)
    if len(cpu_io) != len(compiled_io):
        return (f"it has {len(compiled_io)} input and output tensors, the CPU model "
                f"{len(cpu_io)}")
    for ours, theirs in zip(cpu_io, compiled_io, strict=True):
        if ours.name != theirs.name or not _same_tensor(ours, theirs):
            return f"its tensor {_shown(theirs)} is {_shown(ours)} in the CPU model"
    for sg in compiled_model.subgraphs:
        if sg.index >= len(cpu_model.subgraphs):
            return f"it has subgraph {sg.index}, the CPU model {len(cpu_model.subgraphs)}"
        by_name = {t.name: t for t in cpu_model.subgraphs[sg.index].tensors}
        for t in sg.tensors:
            ours = by_name.get(t.name)
            if ours is not None and not _same_tensor(ours, t):
                return f"its tensor {_shown(t)} is {_shown(ours)} in the CPU model"
    cpu_ops = Counter(op_key(op) for op in cpu_model.operators)
    left = Counter(op_key(op) for op in compiled_model.operators if not is_edgetpu_op(op))
    extra = left - cpu_ops
    if extra:
        key, count = next(iter(extra.items()))
        return f"it runs {count} more {key} op(s) on the CPU than the CPU model holds"
    if sum(left.values()) == len(compiled_model.operators) and left != cpu_ops:
        return (f"it maps nothing to the Edge TPU but holds {sum(left.values())} ops, the CPU "
                f"model {sum(cpu_ops.values())}")
    return _weights_problem(cpu_model, compiled_model)
