"""Read the DarwiNN package an Edge TPU custom op carries (a flatbuffer, identifier `DWN1`).

The package holds the compiler's header (minimum runtime, compiler version) and one or more
serialized executables (the Edge TPU program, its parameters, its input and output layers).
Field slots follow libedgetpu's executable/executable.fbs.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from tpulens.analyzer.flatbuf import FlatbufferError, Table, root

PACKAGE_IDENTIFIER = b"DWN1"
_PKG_MIN_RUNTIME, _PKG_MULTI_EXECUTABLE, _PKG_KEYPAIR, _PKG_COMPILER = 4, 6, 10, 12
_PKG_VIRTUAL_CHIP, _PKG_MODEL_ID = 14, 18
_EXE_NAME, _EXE_BATCH, _EXE_PARAMETERS, _EXE_INPUTS, _EXE_OUTPUTS = 6, 10, 16, 20, 22
_EXE_CHIP, _EXE_TYPE, _EXE_TOKEN, _EXE_CYCLES64 = 24, 30, 32, 36
_EXECUTABLE_TYPES = {0: "STAND_ALONE", 1: "PARAMETER_CACHING", 2: "EXECUTION_ONLY"}
# What the released compilers write where they have no value: "cl/" with the change number
# stripped, and "Unknown" as the name of the parameter-caching executable.
_PLACEHOLDER_NAMES = {"Unknown", ""}


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


def _version(text: str | None) -> str | None:
    """The compiler version as written, or None when it carries no number (e.g. "cl/")."""
    return text if text and re.search(r"[0-9]", text) else None


def _name(text: str | None) -> str | None:
    return None if text is None or text in _PLACEHOLDER_NAMES else text


def _byte_vectors(table: Table, slot: int) -> list[tuple[int, int]]:
    """(start, length) of each byte vector in a flatbuffer vector of byte vectors."""
    start, count = table.byte_span(slot)
    buf = table.buf
    if start + 4 * count > len(buf):
        raise FlatbufferError(f"vector of {count} items at {start} runs past the end")
    spans = []
    for pos in range(start, start + 4 * count, 4):
        target = pos + struct.unpack_from("<I", buf, pos)[0]
        if target + 4 > len(buf):
            raise FlatbufferError(f"item at {target} outside the package")
        length = struct.unpack_from("<I", buf, target)[0]
        if target + 4 + length > len(buf):
            raise FlatbufferError(f"item of {length} bytes at {target} runs past the end")
        spans.append((target + 4, length))
    return spans


def _executable(buf) -> Executable:
    exe = root(buf)
    type_code = exe.scalar(_EXE_TYPE, "h", 0)
    return Executable(
        name=_name(exe.string(_EXE_NAME)),
        type=_EXECUTABLE_TYPES.get(type_code, f"TYPE_{type_code}"),
        chip=_name(exe.string(_EXE_CHIP)),
        batch_size=exe.scalar(_EXE_BATCH, "i", 0),
        parameter_bytes=exe.byte_span(_EXE_PARAMETERS)[1],
        parameter_caching_token=exe.scalar(_EXE_TOKEN, "Q", 0),
        estimated_cycles=exe.scalar(_EXE_CYCLES64, "q", 0),
        inputs=[layer.string(4) or "" for layer in exe.tables(_EXE_INPUTS)],
        outputs=[layer.string(4) or "" for layer in exe.tables(_EXE_OUTPUTS)],
    )


def read_package(buf) -> Package:
    """Read the DWN1 package header and its executables; raises FlatbufferError on damage.

    The package is copied to bytes once (the flatbuffer reader decodes strings from bytes);
    an executable referenced several times is read and listed once.
    """
    buf = bytes(buf)
    package = root(buf, PACKAGE_IDENTIFIER)
    executables = []
    start, length = package.byte_span(_PKG_MULTI_EXECUTABLE)
    if length:
        multi = buf[start:start + length]
        spans = dict.fromkeys(_byte_vectors(root(multi), 4))
        executables = [_executable(multi[at:at + size]) for at, size in spans]
    return Package(
        size_bytes=len(buf),
        min_runtime_version=package.scalar(_PKG_MIN_RUNTIME, "i", 0),
        compiler_version=_version(package.string(_PKG_COMPILER)),
        keypair_version=package.scalar(_PKG_KEYPAIR, "i", 0),
        virtual_chip_id=package.scalar(_PKG_VIRTUAL_CHIP, "i", -1),
        model_identifier=_name(package.string(_PKG_MODEL_ID)),
        executables=executables,
    )
