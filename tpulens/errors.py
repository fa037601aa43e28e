"""The one exception the CLI turns into a one-line message and exit code 2."""

from pathlib import Path


class InputError(Exception):
    """Bad user input (a file, a config, a log): the message names the file and the problem."""


def existing_file(path, expected: str) -> Path:
    """`path` as a Path if it names a file; otherwise InputError saying what it is instead."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, expected {expected}")
    return p
