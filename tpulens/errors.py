"""The one exception the CLI turns into a one-line message and exit code 2."""


class InputError(Exception):
    """Bad user input (a file, a config, a log): the message names the file and the problem."""
