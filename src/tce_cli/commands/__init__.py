"""CLI commands, one module each. Modules import only Typer and the standard library at
the top; the library work is imported inside each command so start-up stays fast."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    """Attach every command and sub-app to ``app`` (order = order in --help)."""
    from tce_cli.commands import schema_cmd

    schema_cmd.register(app)
