"""Errors that stop a run. Each carries a one-line message and a hint saying how to fix it.

Only the CLI renders them (``Error:`` and ``Hint:`` on stderr, exit code 2). Messages never
contain cell values from agency data: they name files, rows, columns and rules instead.
"""

from __future__ import annotations


class TceError(Exception):
    """A problem that stops the run: bad usage, unreadable input, invalid config or mapping."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputFileError(TceError):
    """An input file is missing, empty, of the wrong kind, corrupt or undecodable."""


class MappingError(TceError):
    """A mapping file is malformed or refers to fields, codes or columns that do not exist."""


class ConfigError(TceError):
    """The project configuration (tce.toml) or a command-line option is invalid."""


class PeriodError(TceError):
    """A reporting period label cannot be understood."""


class KeyFileError(TceError):
    """The pseudonymisation key is missing or unusable."""


class StoreError(TceError):
    """The harmonised store is missing, empty, locked or inconsistent."""


class OutputError(TceError):
    """An output cannot be written (read-only folder, full disk, path outside the output folder)."""
