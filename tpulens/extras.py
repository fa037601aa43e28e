"""The installed distribution: its version, and whether an optional-dependency group is there."""

from __future__ import annotations

import importlib.metadata
import re

from tpulens.errors import InputError


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
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            absent.append(name)
    return absent


def require(extra: str) -> None:
    """InputError (one line, exit 2) naming the extra to install when any of it is missing."""
    absent = missing(extra)
    if absent:
        raise InputError(f"needs the [{extra}] extra ({', '.join(absent)} not installed): "
                         f"pip install 'tpulens[{extra}]'")
