"""`tce init`: scaffold a tce project folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tce_cli.commands._common import handle_errors


def register(app: typer.Typer) -> None:
    app.command("init")(init)


@handle_errors
def init(
    folder: Annotated[
        Path,
        typer.Argument(
            help="Project folder (created if missing).", file_okay=False, metavar="FOLDER"
        ),
    ] = Path("."),
) -> None:
    """Set up a project folder: tce.toml, mappings/, tce-store/, tce-output/, .gitignore.

    Never overwrites a file: if tce.toml, mappings/README.txt or .gitignore exist, nothing
    is written.

    Exit codes: 0 created; 2 a file already exists or the folder cannot be written.
    """
    from tce_cli import console
    from tce_cli.config import init_project

    created = init_project(folder)
    for path in created:
        console.stdout.out(f"created {path}{'/' if path.is_dir() else ''}")
    console.stdout.out(
        "\nNext steps:\n"
        f"  cd {folder}\n"
        "  tce keygen ../tce.key          # once per partnership; keep it outside this folder\n"
        "  tce mapping init EXPORT.xlsx   # draft a mapping per agency, then review it\n"
        "  tce validate EXPORT.xlsx       # check a file and write the feedback workbook\n"
        "  tce harmonise FILES --period '2026-27 Q2' --key-file ../tce.key"
    )
