"""Helpers shared by the commands: error rendering, output formats, exit codes."""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class _State:
    debug: bool = False


STATE = _State()


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


_OS_REASONS = {
    errno.ENOSPC: "the disk is full",
    getattr(errno, "EDQUOT", errno.ENOSPC): "the disk is full (or your quota is used up)",
    errno.EACCES: "permission denied (the folder may be read-only)",
    errno.EPERM: "permission denied (the folder may be read-only)",
    errno.EROFS: "the disk or folder is read-only",
}
"""Plain words for the OS errors people meet (a temporary file on a full disk, say)."""


MappingsOption = Annotated[
    Path | None,
    typer.Option(
        "--mappings", help="Folder of mappings (default: from tce.toml, else ./mappings)."
    ),
]
StoreOption = Annotated[
    Path | None,
    typer.Option("--store", help="Harmonised store (default: from tce.toml, else ./tce-store)."),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="table or json.")]
"""Options several commands share, declared once so they read the same everywhere."""


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn TceError into ``Error:``/``Hint:`` on stderr and exit 2; hide other tracebacks.

    Unexpected exceptions are bugs: their text may hold cell values, so only the exception
    type is shown unless ``tce --debug`` was given.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from tce_cli import console
        from tce_cli.errors import TceError

        try:
            return func(*args, **kwargs)
        except TceError as exc:
            console.error(exc.message, exc.hint)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except MemoryError:
            console.error(
                "Ran out of memory.", "Close other programs or split the input into smaller files."
            )
            raise typer.Exit(2) from None
        except OSError as exc:
            where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            reason = _OS_REASONS.get(exc.errno or 0) or exc.strerror or type(exc).__name__
            console.error(
                f"Could not read or write a file{where}: {reason}.",
                "Check the path exists, is not open in Excel, that you may write there and "
                "that the disk has space.",
            )
            raise typer.Exit(2) from None
        except Exception as exc:
            if STATE.debug:
                raise
            console.error(
                f"tce hit an internal error ({type(exc).__name__}).",
                "Re-run with 'tce --debug ...' to see the traceback, and report it.",
            )
            raise typer.Exit(2) from None

    return wrapper
