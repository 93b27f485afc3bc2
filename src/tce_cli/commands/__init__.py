"""CLI commands, one module each. Modules import only Typer and the standard library at
the top; the library work is imported inside each command so start-up stays fast."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    """Attach every command and sub-app to ``app`` (order = order in --help)."""
    from tce_cli.commands import (
        ack_cmd,
        export_cmd,
        harmonise_cmd,
        init_cmd,
        inspect_cmd,
        keygen_cmd,
        mapping_cmd,
        report_cmd,
        schema_cmd,
        status_cmd,
        validate_cmd,
    )

    for module in (
        validate_cmd,
        harmonise_cmd,
        report_cmd,
        status_cmd,
        ack_cmd,
        inspect_cmd,
        mapping_cmd,
        schema_cmd,
        export_cmd,
        keygen_cmd,
        init_cmd,
    ):
        module.register(app)
