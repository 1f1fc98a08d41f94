"""The run log: lines for stderr and OUT.log; warnings are always shown."""

from __future__ import annotations

import sys
import time
import warnings
from contextlib import contextmanager


class Log:
    """Lines for stderr and OUT.log; warnings are always shown, the rest unless quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.lines: list[str] = []
        self.warnings: list[str] = []
        self.started = time.monotonic()

    def info(self, message: str) -> None:
        for line in str(message).splitlines():
            self.lines.append(line)
            if not self.quiet:
                print(line, file=sys.stderr, flush=True)

    def warn(self, message: str) -> None:
        text = " ".join(str(message).split())
        self.warnings.append(text)
        self.lines.append(f"Warning: {text}")
        print(f"ntkmixed: warning: {text}", file=sys.stderr, flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


@contextmanager
def warnings_to(log: Log):
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *rest, **kw: log.warn(message)
        yield
