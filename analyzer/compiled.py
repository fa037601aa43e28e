"""Read what `edgetpu_compiler` wrote into a `*_edgetpu.tflite`, and recover per-op placement.

A compiled model replaces every Edge TPU subgraph by one CUSTOM op `edgetpu-custom-op` whose
FlexBuffer options hold a DarwiNN package (flatbuffer, identifier `DWN1`). Tensor names at the
custom op's boundary are kept, and ops left on the CPU keep their names, so comparing tensor
names with the CPU model tells which of its ops went to the TPU.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tpulens.analyzer import flexbuffer
from tpulens.analyzer.flatbuf import FlatbufferError, Table, root

EDGETPU_CUSTOM_CODE = "edgetpu-custom-op"
PACKAGE_IDENTIFIER = b"DWN1"
SCHEMA_VERSION = 1
# Package, Executable and Layer field slots from libedgetpu executable/executable.fbs.
_PKG_MIN_RUNTIME, _PKG_MULTI_EXECUTABLE, _PKG_KEYPAIR, _PKG_COMPILER = 4, 6, 10, 12
_PKG_VIRTUAL_CHIP, _PKG_MODEL_ID = 14, 18
_EXE_NAME, _EXE_BATCH, _EXE_PARAMETERS, _EXE_INPUTS, _EXE_OUTPUTS = 6, 10, 16, 20, 22
_EXE_CHIP, _EXE_TYPE, _EXE_TOKEN, _EXE_CYCLES64 = 24, 30, 32, 36
_EXECUTABLE_TYPES = {0: "STAND_ALONE", 1: "PARAMETER_CACHING", 2: "EXECUTION_ONLY"}
_OPTION_KEYS = {"1": "version", "2": "chip", "4": "package", "5": "execution_preference",
                "6": "chip_ids", "7": "extra_executables"}


@dataclass
class Executable:
    name: str | None
    type: str
    chip: str | None
    batch_size: int
    parameter_bytes: int
    parameter_caching_token: int
    estimated_cycles: int
    inputs: list[str]
    outputs: list[str]


@dataclass
class Package:
    size_bytes: int
    min_runtime_version: int
    compiler_version: str | None
    keypair_version: int
    virtual_chip_id: int
    model_identifier: str | None
    executables: list[Executable]


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


def is_compiled(model) -> bool:
    """True when the model holds at least one Edge TPU custom op."""
    return any(op.custom_code == EDGETPU_CUSTOM_CODE for op in model.operators)


def _strings(table: Table, slot: int) -> list:
    """A flatbuffer vector of strings (or byte vectors) as slices of the table's buffer."""
    start, count = table.byte_span(slot)
    buf = table.buf
    if start + 4 * count > len(buf):
        raise FlatbufferError(f"string vector of {count} items at {start} runs past the end")
    items = []
    for i in range(count):
        pos = start + 4 * i
        target = pos + struct.unpack_from("<I", buf, pos)[0]
        if target + 4 > len(buf):
            raise FlatbufferError(f"string at {target} outside the package")
        length = struct.unpack_from("<I", buf, target)[0]
        if target + 4 + length > len(buf):
            raise FlatbufferError(f"string of {length} bytes at {target} runs past the end")
        items.append(buf[target + 4:target + 4 + length])
    return items


def _executable(buf) -> Executable:
    exe = root(buf)
    type_code = exe.scalar(_EXE_TYPE, "h", 0)
    return Executable(
        name=exe.string(_EXE_NAME),
        type=_EXECUTABLE_TYPES.get(type_code, f"TYPE_{type_code}"),
        chip=exe.string(_EXE_CHIP),
        batch_size=exe.scalar(_EXE_BATCH, "i", 0),
        parameter_bytes=exe.byte_span(_EXE_PARAMETERS)[1],
        parameter_caching_token=exe.scalar(_EXE_TOKEN, "Q", 0),
        estimated_cycles=exe.scalar(_EXE_CYCLES64, "q", 0),
        inputs=[layer.string(4) or "" for layer in exe.tables(_EXE_INPUTS)],
        outputs=[layer.string(4) or "" for layer in exe.tables(_EXE_OUTPUTS)],
    )


def read_package(buf) -> Package:
    """Read the DWN1 package header and its executables; raises FlatbufferError on damage.

    The package is copied to bytes once (the flatbuffer reader decodes strings from bytes).
    """
    buf = bytes(buf)
    package = root(buf, PACKAGE_IDENTIFIER)
    executables = []
    start, length = package.byte_span(_PKG_MULTI_EXECUTABLE)
    if length:
        multi = root(package.buf[start:start + length])
        executables = [_executable(item) for item in _strings(multi, 4)]
    return Package(
        size_bytes=len(buf),
        min_runtime_version=package.scalar(_PKG_MIN_RUNTIME, "i", 0),
        compiler_version=package.string(_PKG_COMPILER),
        keypair_version=package.scalar(_PKG_KEYPAIR, "i", 0),
        virtual_chip_id=package.scalar(_PKG_VIRTUAL_CHIP, "i", 0),
        model_identifier=package.string(_PKG_MODEL_ID) or None,
        executables=executables,
    )


class OptionsError(flexbuffer.FlexBufferError):
    """Custom-op options that decode but are not what the Edge TPU runtime expects."""


def _read_options(model, op) -> tuple[dict, Package | None]:
    offset, length = op.custom_options
    if not length:
        raise OptionsError("the custom op has no options")
    values = flexbuffer.loads(memoryview(model.buf)[offset:offset + length])
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
    """Every Edge TPU custom op with its options and package (errors recorded, not raised)."""
    result = []
    for sg in model.subgraphs:
        for op in sg.operators:
            if op.custom_code != EDGETPU_CUSTOM_CODE:
                continue
            item = CustomOp(sg.index, op.index,
                            [sg.tensors[i].name for i in op.inputs if i >= 0],
                            [sg.tensors[i].name for i in op.outputs if i >= 0])
            try:
                item.options, item.package = _read_options(model, op)
            except (flexbuffer.FlexBufferError, FlatbufferError, struct.error) as err:
                item.error = f"custom options of op {op.index} unreadable: {err}"
            result.append(item)
    return result


def _op_key(op) -> str:
    return f"CUSTOM:{op.custom_code}" if op.opcode == "CUSTOM" else op.opcode


def describe(model) -> dict:
    """What a compiled model contains: TPU custom ops, packages, boundary tensors, CPU ops."""
    ops = custom_ops(model)
    boundary_in, boundary_out, seen = [], [], set()
    for item in ops:
        sg = model.subgraphs[item.subgraph]
        op = sg.operators[item.index]
        for target, indices in ((boundary_in, op.inputs), (boundary_out, op.outputs)):
            for i in indices:
                if i >= 0 and (item.subgraph, i, target is boundary_in) not in seen:
                    seen.add((item.subgraph, i, target is boundary_in))
                    target.append({"subgraph": item.subgraph, **sg.tensors[i].to_json()})
    cpu_ops = [{"subgraph": sg.index, "index": op.index, "opcode": op.opcode,
                "custom_code": op.custom_code,
                "outputs": [sg.tensors[i].name for i in op.outputs if i >= 0]}
               for sg in model.subgraphs for op in sg.operators
               if op.custom_code != EDGETPU_CUSTOM_CODE]
    runtimes = [c.package.min_runtime_version for c in ops if c.package]
    return {
        "schema_version": SCHEMA_VERSION,
        "model": {"path": str(model.path), "name": Path(str(model.path)).name,
                  "size_bytes": model.size_bytes, "kind": "compiled"},
        "description": model.description,
        "tpu_subgraphs": len(ops),
        "min_runtime_version": max(runtimes) if runtimes else None,
        "custom_ops": [{"subgraph": c.subgraph, "index": c.index, "inputs": c.inputs,
                        "outputs": c.outputs, "options": c.options,
                        "package": asdict(c.package) if c.package else None,
                        "error": c.error} for c in ops],
        "boundary_tensors": {"inputs": boundary_in, "outputs": boundary_out},
        "cpu_ops": cpu_ops,
        "cpu_ops_histogram": dict(sorted(Counter(_op_key(o) for sg in model.subgraphs
                                                 for o in sg.operators
                                                 if o.custom_code != EDGETPU_CUSTOM_CODE)
                                         .items())),
        "ops_total": sum(len(sg.operators) for sg in model.subgraphs),
        "warnings": [c.error for c in ops if c.error],
    }


def render_text(desc: dict) -> str:
    """A short text report of `describe()`'s result."""
    out = [f"{desc['model']['name']}: compiled Edge TPU model, "
           f"{desc['tpu_subgraphs']} Edge TPU subgraph(s), {len(desc['cpu_ops'])} op(s) "
           f"left on the CPU"]
    if desc["min_runtime_version"] is not None:
        out.append(f"needs Edge TPU runtime >= {desc['min_runtime_version']}")
    for c in desc["custom_ops"]:
        out.append(f"  edgetpu-custom-op #{c['index']} (subgraph {c['subgraph']}): "
                   f"{len(c['inputs'])} input(s) -> {len(c['outputs'])} output(s)")
        package = c["package"]
        if package:
            for exe in package["executables"]:
                out.append(f"    executable {exe['name'] or '?'} [{exe['type']}] chip "
                           f"{exe['chip'] or '?'}, parameters {exe['parameter_bytes']} bytes")
        if c["error"]:
            out.append(f"    ! {c['error']}")
    if desc["boundary_tensors"]["inputs"]:
        out.append("boundary inputs:  " + ", ".join(
            t["name"] for t in desc["boundary_tensors"]["inputs"]))
        out.append("boundary outputs: " + ", ".join(
            t["name"] for t in desc["boundary_tensors"]["outputs"]))
    if desc["cpu_ops"]:
        out.append("ops on the CPU: " + ", ".join(
            f"{k} x{v}" for k, v in desc["cpu_ops_histogram"].items()))
    return "\n".join(out)


@dataclass
class Placement:
    """Per-op ground truth for a CPU model from its compiled model."""

    placement: dict  # (subgraph, index) -> "TPU" | "CPU"
    matched_by_shape: list = field(default_factory=list)  # CPU-model ops matched by shape
    unmatched: list = field(default_factory=list)  # compiled CPU ops with no CPU-model twin
    warnings: list = field(default_factory=list)


def _signature(sg, op) -> tuple:
    return (op.opcode, op.custom_code,
            tuple((sg.tensors[i].dtype, sg.tensors[i].shape) for i in op.outputs if i >= 0))


def match_placement(cpu_model, compiled_model) -> Placement:
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
            if op.custom_code == EDGETPU_CUSTOM_CODE:
                continue
            names = [(sg.index, sg.tensors[i].name) for i in op.outputs if i >= 0]
            leftovers.append((sg, op, names))
            for name in names:
                produced[name] = (sg.index, op.index)
    placement = {}
    used = set()
    for sg in cpu_model.subgraphs:
        for op in sg.operators:
            hits = [produced[(sg.index, sg.tensors[i].name)] for i in op.outputs
                    if i >= 0 and (sg.index, sg.tensors[i].name) in produced]
            placement[(sg.index, op.index)] = "CPU" if hits else "TPU"
            used.update(hits)
    result = Placement(placement)
    for csg, cop, _ in leftovers:
        if (csg.index, cop.index) in used:
            continue
        wanted = _signature(csg, cop)
        twin = None
        if csg.index < len(cpu_model.subgraphs):
            sg = cpu_model.subgraphs[csg.index]
            twin = next((op for op in sg.operators if placement[(sg.index, op.index)] == "TPU"
                         and _signature(sg, op) == wanted), None)
        label = f"{_op_key(cop)} #{cop.index} (subgraph {csg.index})"
        if twin is None:
            result.unmatched.append(label)
            continue
        placement[(csg.index, twin.index)] = "CPU"
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
