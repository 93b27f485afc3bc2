"""CLI commands, one module each. Modules import only Typer and the standard library at
the top; the library work is imported inside each command so start-up stays fast."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    """Attach every command and sub-app to ``app`` (order = order in --help)."""
    from tce_cli.commands import harmonise_cmd, mapping_cmd, schema_cmd, validate_cmd

    validate_cmd.register(app)
    harmonise_cmd.register(app)
    mapping_cmd.register(app)
    schema_cmd.register(app)
    from tce_cli.commands import export_cmd, init_cmd, keygen_cmd

    export_cmd.register(app)
    keygen_cmd.register(app)
    init_cmd.register(app)
    from tce_cli.commands import report_cmd

    report_cmd.register(app)
