"""Errors the command line reports as one clear message and a non-zero exit, without a traceback."""


class InputError(Exception):
    """Bad input: a file, record or field the user must fix. The message names them."""


class OutputError(Exception):
    """The output place holds something we refuse to overwrite or cannot read as ours."""
