"""How every command of ``python -m turnkeeper_trio`` writes its answer.

One rule for the commands: print the text; if the reader went away (``| head``), end
quietly with status 1, as the Python documentation recommends for ``BrokenPipeError``
(point stdout at devnull, so that the exit prints no traceback either).
"""

from __future__ import annotations

import os
import sys

__all__ = ["emit"]


def emit(text: str) -> int:
    """Print *text*; return 0, or 1 if stdout's reader is gone (quietly)."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0
