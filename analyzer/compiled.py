"""Read what `edgetpu_compiler` wrote into a `*_edgetpu.tflite`, as an analysis JSON.

A compiled model replaces every Edge TPU subgraph by one CUSTOM op `edgetpu-custom-op` whose
FlexBuffer options hold a DarwiNN package (see edgetpu_package.py); ops left on the CPU stay
as they were. The compiler writes the file with TFLite's model writer, whose description
("Exported from Subgraph." or, from older compilers, "Exported from Interpreter.") replaces the
converter's: so a model the compiler accepted but mapped nothing of (no custom op at all) is
still recognised as compiled.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tpulens.analyzer import estimate, flexbuffer
from tpulens.analyzer.analysis import (
    Analysis,
    AnalysisOptions,
    CostEstimate,
    ModelFile,
    ModelKind,
    OpTensor,
    OpVerdict,
    ReasonCode,
    Summary,
    TableRow,
    op_tensor_fields,
    written_tensors,
)
from tpulens.analyzer.flatbuf import FlatbufferError
from tpulens.analyzer.vocabulary import Placement, Source, Status, Verdict

if TYPE_CHECKING:  # the package reader is loaded by the first compiled model read
    from tpulens.analyzer.edgetpu_package import Package

EDGETPU_CUSTOM_CODE = "edgetpu-custom-op"
COMPILER_DESCRIPTIONS = ("Exported from Subgraph.", "Exported from Interpreter.")
_OPTION_KEYS = {"1": "version", "2": "chip", "4": "package", "5": "execution_preference",
                "6": "chip_ids", "7": "extra_executables"}


@dataclass
class CustomOp:
    """One `edgetpu-custom-op` node: one Edge TPU subgraph."""

    subgraph: int
    index: int
    inputs: list[str]
    outputs: list[str]
    options: dict = field(default_factory=dict)
    package: Package | None = None
    error: str | None = None  # why the options or the package could not be read


def is_edgetpu_op(op) -> bool:
    return op.custom_code == EDGETPU_CUSTOM_CODE


def is_compiled(model) -> bool:
    """True for a model the Edge TPU compiler wrote: it holds an Edge TPU custom op, or it
    carries the description the compiler's model writer gives every file."""
    return model.description in COMPILER_DESCRIPTIONS or any(
        is_edgetpu_op(op) for op in model.operators)


class OptionsError(flexbuffer.FlexBufferError):
    """Custom-op options that decode but are not what the Edge TPU runtime expects."""


def _read_options(buf) -> tuple[dict, Package | None]:
    from tpulens.analyzer.edgetpu_package import read_package

    values = flexbuffer.loads(buf)
    if not isinstance(values, dict):
        raise OptionsError(f"options are a {type(values).__name__}, expected a map")
    options, package = {}, None
    for key, value in values.items():
        name = _OPTION_KEYS.get(key, key)
        if name == "package":
            package = read_package(value) if isinstance(value, memoryview) else None
            options["package_bytes"] = len(value) if isinstance(value, memoryview) else None
        elif name == "extra_executables":
            options[name] = len(value) if isinstance(value, list) else value
        elif isinstance(value, memoryview):
            options[name] = bytes(value).decode("utf-8", "replace")
        else:
            options[name] = value
    return options, package


def custom_ops(model) -> list[CustomOp]:
    """Every Edge TPU custom op with its options and package (errors recorded, not raised).

    Ops that share one options buffer have it decoded once.
    """
    decoded: dict[tuple[int, int], tuple[dict, Package | None, str | None]] = {}
    result = []
    for sg in model.subgraphs:
        for op in sg.operators:
            if not is_edgetpu_op(op):
                continue
            span = op.custom_options
            if span not in decoded:
                decoded[span] = _decode(model, span)
            options, package, error = decoded[span]
            result.append(CustomOp(sg.index, op.index,
                                   [t.name for t in sg.input_tensors(op)],
                                   [t.name for t in sg.output_tensors(op)], options, package,
                                   error and f"custom options of op {op.index} unreadable: "
                                             f"{error}"))
    return result


def _decode(model, span: tuple[int, int]) -> tuple[dict, Package | None, str | None]:
    offset, length = span
    if not length:
        return {}, None, "the custom op has no options"
    try:
        return (*_read_options(memoryview(model.buf)[offset:offset + length]), None)
    except (flexbuffer.FlexBufferError, FlatbufferError, struct.error) as err:
        return {}, None, str(err)


def op_key(op) -> str:
    """The key of op histograms: the opcode, or CUSTOM:<code> for custom ops."""
    return f"CUSTOM:{op.custom_code}" if op.opcode == "CUSTOM" else op.opcode


def _boundary(model, ops: list[CustomOp]) -> dict:
    """The tensors at the edges of the Edge TPU subgraphs, each listed once."""
    found: dict[str, dict] = {"inputs": {}, "outputs": {}}
    for item in ops:
        sg = model.subgraphs[item.subgraph]
        op = sg.operators[item.index]
        for side, tensors in (("inputs", sg.input_tensors(op)),
                              ("outputs", sg.output_tensors(op))):
            for t in tensors:
                found[side].setdefault((item.subgraph, t.index),
                                       {"subgraph": item.subgraph, **t.to_json()})
    return {side: list(items.values()) for side, items in found.items()}


def _explanation(op, item: CustomOp | None) -> str:
    if item is None:
        return ("The compiler left this op on the CPU. A compiled model does not record why: "
                "`tpulens compare` with the CPU model, or the compiler's log, tells.")
    package = f" ({item.package.size_bytes}-byte package)" if item.package else ""
    return (f"One Edge TPU subgraph{package}: the compiler replaced the ops between "
            f"{', '.join(item.inputs) or 'no tensor'} and {', '.join(item.outputs)} by one "
            "Edge TPU program.")


def _verdict(tpu: int, cpu: int) -> Verdict:
    if not tpu:
        return Verdict.NONE
    return Verdict.PARTIAL if cpu else Verdict.FULL


def _op_verdict(sg, op, item: CustomOp | None, tensors: list[OpTensor]) -> OpVerdict:
    return OpVerdict(
        sg.index, op.index, op.opcode, op.custom_code, op.version, op.options,
        *op_tensor_fields(op, tensors),
        placement=Placement.TPU if item else Placement.CPU,
        status=Status.MAPPED if item else None,
        reason_code=ReasonCode.EDGETPU_SUBGRAPH if item else ReasonCode.LEFT_ON_CPU,
        explanation=_explanation(op, item), source=Source.COMPILER)


def compiled_analysis(model) -> Analysis:
    """The compiled model as an analysis (source "compiler"), plus what the compiler wrote:
    packages, boundary tensors and the ops left on the CPU.

    Counts are of this file's ops: each Edge TPU subgraph is one op here, however many ops of
    the CPU model it replaced (`tpulens compare` gives the per-op truth).
    """
    items = custom_ops(model)
    by_position = {(c.subgraph, c.index): c for c in items}
    written: list[OpVerdict] = []
    for sg in model.subgraphs:
        tensors = written_tensors(sg.tensors)
        written += [_op_verdict(sg, op, by_position.get((sg.index, op.index)), tensors)
                    for op in sg.operators]
    ops = tuple(written)
    # Ops sharing one options buffer share one Package object: list each package once.
    packages = list({id(c.package): c.package for c in items if c.package}.values())
    package_index = {id(p): i for i, p in enumerate(packages)}
    versions = sorted({p.compiler_version for p in packages if p.compiler_version})
    version = versions[0] if versions else None
    runtimes = [p.min_runtime_version for p in packages]
    cpu = len(ops) - len(items)
    summary = Summary(ops_total=len(ops), ops_tpu=len(items), ops_cpu=cpu,
                      tpu_subgraphs=len(items), verdict=_verdict(len(items), cpu),
                      compiler_version=version, source=Source.COMPILER,
                      estimate=CostEstimate.of(estimate.from_compiled(model, items)))
    table = Counter((o.custom_code or o.opcode, o.status) for o in ops)
    return Analysis(
        model=ModelFile(str(model.path), Path(str(model.path)).name, model.size_bytes,
                        ModelKind.COMPILED),
        source=Source.COMPILER, compiler_version=version,
        options=AnalysisOptions(min_runtime_version=max(runtimes) if runtimes else None),
        summary=summary,
        table=tuple(TableRow(operator, n, status) for (operator, status), n in table.items()),
        ops=ops,
        edgetpu={
            "description": model.description,
            "packages": [asdict(p) for p in packages],
            "custom_ops": [{"subgraph": c.subgraph, "index": c.index, "inputs": c.inputs,
                            "outputs": c.outputs, "options": c.options,
                            "package": package_index.get(id(c.package)),
                            "error": c.error} for c in items],
            "boundary_tensors": _boundary(model, items),
            "cpu_ops_histogram": dict(sorted(Counter(
                op_key(o) for o in model.operators if not is_edgetpu_op(o)).items())),
        },
        warnings=tuple(c.error for c in items if c.error))


def analysis(model) -> dict:
    """The analysis JSON of a compiled model (compiled_analysis)."""
    return compiled_analysis(model).to_json()
