"""Edge TPU compiler versions and the runtime each one targets by default.

Sources (docs/edgetpu-rules.md): the compiler page and release notes for the flags, libedgetpu's
runtime_version.h for the runtime numbers; the January 2020 build of 2.0 already packaged runtime
13, the earlier 2.0 builds runtime 12.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from tpulens.errors import InputError


@dataclass(frozen=True)
class Compiler:
    """An edgetpu_compiler release: the runtime its models need by default, and its options."""

    version: str  # "16.0", or a full build number where builds of one version differ
    default_runtime: int
    released: str
    multiple_subgraphs: bool  # has -a/--enable_multiple_subgraphs
    intermediate_tensors: bool  # has -i/--intermediate_tensors

    @cached_property
    def key(self) -> tuple[int, int]:
        """(major, minor), parsed once: every rule check compares it."""
        major, minor = self.version.split(".")[:2]
        return int(major), int(minor)


COMPILERS = {
    c.version: c
    for c in (
        Compiler("1.0", 10, "2019-05", False, False),
        Compiler("2.0", 12, "2019-07", False, False),
        Compiler("2.0.291256449", 13, "2020-01", False, False),
        Compiler("2.1", 13, "2020-03", False, True),
        Compiler("14.1", 13, "2020-06", False, True),
        Compiler("15.0", 13, "2020-11", True, True),
        Compiler("16.0", 14, "2021-07", True, True),
    )
}
DEFAULT_COMPILER = "16.0"


def get_compiler(version: str | None) -> Compiler:
    """Accept "16", "16.0" or a full "16.0.384591198" as printed by the compiler (a full build
    number picks that build's entry when it has one)."""
    text = (version or DEFAULT_COMPILER).strip()
    if text in COMPILERS:
        return COMPILERS[text]
    parts = text.split(".")
    key = ".".join((parts + ["0"])[:2])
    if key not in COMPILERS:
        known = ", ".join(COMPILERS)
        raise InputError(f"unknown Edge TPU compiler version {text!r} (known: {known})")
    return COMPILERS[key]
