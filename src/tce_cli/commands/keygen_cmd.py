"""`tce keygen`: create the partnership's pseudonymisation key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tce_cli.commands._common import handle_errors


def register(app: typer.Typer) -> None:
    app.command("keygen")(keygen)


@handle_errors
def keygen(
    path: Annotated[
        Path, typer.Argument(help="Key file to create, e.g. tce.key.", metavar="KEYFILE")
    ],
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing key (breaks linkage with old data)."),
    ] = False,
) -> None:
    """Create a new secret key for pseudonymising identifiers (32 random bytes, mode 0600).

    Do this once for the whole partnership: every agency must use the same key so the same
    child gets the same person_key everywhere. Keep the file out of version control and away
    from the data; pass it with --key-file or put its text in TCE_KEY.

    Exit codes: 0 key written; 2 the file exists (use --force) or cannot be written.
    """
    from tce_cli import console
    from tce_cli.pseudonymise import generate_key

    fingerprint = generate_key(path, force=force)
    console.stdout.out(f"Wrote a new key to {path} (fingerprint {fingerprint}).")
    console.info(
        "Keep it secret and backed up: without it, future quarters cannot be linked to "
        "earlier ones. Never store it with the data or commit it to version control."
    )
