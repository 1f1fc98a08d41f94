"""``ntkmixed``: parse, run one command with warnings sent to the log and threads limited,
and turn every failure into one line and an exit status."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from .._runtime import limit_threads
from ..exceptions import NtkmixedError
from .commands import COMMANDS
from .errors import CommandError, UsageError
from .log import Log, warnings_to
from .parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 error, 2 usage)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"ntkmixed: error: {exc}", file=sys.stderr)
        return 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    log = Log(quiet=args.quiet)
    try:
        with limit_threads(args.threads), warnings_to(log):
            COMMANDS[args.command](args, argv, log)
    except KeyboardInterrupt:
        print("ntkmixed: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        if os.environ.get("NTKMIXED_DEBUG"):
            raise
        print(f"ntkmixed: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    return 0


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (NtkmixedError, CommandError, UsageError)):
        return text
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or text}: {exc.filename}"
    return f"{type(exc).__name__}: {text} (set NTKMIXED_DEBUG=1 for the traceback)"
