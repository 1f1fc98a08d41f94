"""Exceptions the command line turns into exit statuses."""


class UsageError(Exception):
    """A command-line mistake (exit status 2)."""


class CommandError(Exception):
    """A failure with a message meant for the user (exit status 1)."""
