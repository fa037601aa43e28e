"""The one exception the CLI turns into a one-line message and exit code 2."""

from pathlib import Path


class InputError(Exception):
    """Bad user input (a file, a config, a log): the message names the file and the problem."""


def existing_file(path, expected: str) -> Path:
    """`path` as a Path if it names a file; otherwise InputError saying what it is instead."""
    p = Path(path)
    try:
        exists, is_dir = p.exists(), p.is_dir()
    except OSError as err:  # a folder on the way that cannot be searched
        raise InputError(f"{p}: unreadable ({err.strerror or err})") from None
    if not exists:
        raise InputError(f"{p}: no such file")
    if is_dir:
        raise InputError(f"{p}: is a directory, expected {expected}")
    return p
