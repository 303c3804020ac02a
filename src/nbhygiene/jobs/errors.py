"""Errors that the commands turn into messages and exit codes instead of tracebacks."""

from __future__ import annotations


class UsageError(Exception):
    """The command line or an input file is wrong: exit code 2 with this message."""

    exit_code = 2


class StoreError(Exception):
    """The run store cannot be used (unwritable, corrupt beyond repair, ...): exit code 2."""

    exit_code = 2


class ExecutionSetupError(Exception):
    """A run could not even start (kernel missing, papermill missing, ...): the run fails with this."""
