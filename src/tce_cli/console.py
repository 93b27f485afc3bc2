"""Shared Rich consoles and small presenters. Results go to stdout, diagnostics to stderr.

Colour and progress bars appear only on a terminal; JSON mode prints plain text.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from rich.console import Console

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(payload: Any) -> None:
    """Write ``payload`` as indented, key-sorted JSON to stdout (machine output)."""
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    stdout.out(text, highlight=False)


def error(message: str, hint: str = "") -> None:
    """Print a one-line error (and a hint) to stderr."""
    stderr.print(f"[bold red]Error:[/] {_escape(message)}")
    if hint:
        stderr.print(f"[bold]Hint:[/] {_escape(hint)}")


def info(message: str) -> None:
    """Print a diagnostic line to stderr."""
    stderr.print(_escape(message))


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def progress_status(
    message: str, *, enabled: bool = True
) -> contextlib.AbstractContextManager[object]:
    """A spinner on stderr while work runs (only on a terminal, never in JSON mode)."""
    if enabled and stderr.is_terminal:
        return stderr.status(message)
    return contextlib.nullcontext()
