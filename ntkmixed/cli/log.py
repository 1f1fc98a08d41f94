"""The run log: lines for stderr and OUT.log; warnings are always shown."""

from __future__ import annotations

import logging
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


class _ToLog(logging.Handler):
    def __init__(self, log: Log):
        super().__init__(logging.INFO)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        self.log.info(record.getMessage())


@contextmanager
def progress_lines_to(log: Log):
    """The package's progress lines (``logging`` channel ``ntkmixed``: one per iteration of
    an iterative engine, with the current estimate) go to the run log while the block runs."""
    logger = logging.getLogger("ntkmixed")
    handler = _ToLog(log)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
