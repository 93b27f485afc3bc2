"""Shared Rich consoles and small presenters. Results go to stdout, diagnostics to stderr.

Colour and progress bars appear only on a terminal; JSON mode prints plain text.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from rich.text import Text

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


# C0 and C1 control characters other than tab and line breaks: a terminal acts on them (ESC
# starts colour, cursor and title sequences), so text from agency files never carries them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_C1 = re.compile(r"[\x7f-\x9f]")  # json.dumps escapes C0 itself


def print_json(payload: Any) -> None:
    """Write ``payload`` as indented, key-sorted JSON to stdout (machine output).

    Written straight to the stream: Rich's text layout takes minutes on the JSON of a big
    file, and JSON needs neither markup nor wrapping.
    """
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    text = _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)  # only inside strings
    stream = stdout.file
    stream.write(text + "\n")
    stream.flush()


def clean(text: str) -> str:
    """Drop control characters (ESC, BEL, ...) a terminal would act on."""
    return _CONTROL.sub("", text)


def plain(text: str) -> Text:
    """Text from a file or a user, for a table cell: never read as markup, no controls."""
    from rich.text import Text

    return Text(clean(text))


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

    return escape(clean(text))


def progress_status(
    message: str, *, enabled: bool = True
) -> contextlib.AbstractContextManager[object]:
    """A spinner on stderr while work runs (only on a terminal, never in JSON mode)."""
    if enabled and stderr.is_terminal:
        return stderr.status(message)
    return contextlib.nullcontext()
