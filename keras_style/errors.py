"""User-facing errors.

Library code raises `StyleError` for anything a user can fix (a missing file, a
bad flag value, an unreachable network). Commands catch it and print its message
as one line on stderr with a non-zero exit, so users never see a traceback for
their own mistakes.
"""


class StyleError(Exception):
    """An error caused by the user's input or environment, with a one-line message."""
