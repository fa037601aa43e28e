"""The installed distribution: its version, and whether an optional-dependency group is there."""

from __future__ import annotations

import importlib.metadata
import re

from tpulens.errors import InputError

# Installed beside an extra, not in it: tf_keras's metadata would pull the full `tensorflow`
# wheel next to tensorflow-cpu, so it goes in without its dependencies.
BESIDE = {"runners": ("tf_keras", "pip install --no-deps tf_keras==2.21.0")}


def version() -> str:
    try:
        return importlib.metadata.version("tpulens")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def missing(extra: str) -> list[str]:
    """Distributions of the `extra` group, read from the installed metadata, not installed."""
    try:
        requirements = importlib.metadata.requires("tpulens") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    absent = []
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
        if f'extra == "{extra}"' not in requirement or name == "tpulens":
            continue
        if not _installed(name):
            absent.append(name)
    return absent


def require(extra: str) -> None:
    """InputError (one line, exit 2) naming the extra to install when any of it is missing."""
    absent = missing(extra)
    if absent:
        raise InputError(f"needs the [{extra}] extra ({', '.join(absent)} not installed): "
                         f"pip install 'tpulens[{extra}]'")
    if extra in BESIDE:
        name, command = BESIDE[extra]
        if not _installed(name):
            raise InputError(f"needs {name} beside the [{extra}] extra: {command}")


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
