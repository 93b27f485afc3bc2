"""`tce mapping ...`: check (and later draft) agency mapping files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tce_cli.commands._common import OutputFormat, handle_errors

mapping_app = typer.Typer(
    help="Check agency mapping files (mappings/*.yaml).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(mapping_app, name="mapping")


@mapping_app.command("check")
@handle_errors
def check(
    files: Annotated[list[Path], typer.Argument(help="Mapping files to check.")],
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="table or json.")] = (
        OutputFormat.TABLE
    ),
) -> None:
    """Validate mapping files without data. Exit 0 when all are valid, 2 otherwise."""
    from tce_cli import console
    from tce_cli.mapping import mapping_problems

    problems = {str(f): mapping_problems(f) for f in files}
    if fmt is OutputFormat.JSON:
        console.print_json(
            {"mappings": [{"file": f, "valid": not p, "problems": p} for f, p in problems.items()]}
        )
    else:
        for f, found in problems.items():
            if found:
                for line in found:
                    console.error(line)
            else:
                console.stdout.print(f"[green]OK[/] {f}")
    if any(problems.values()):
        console.info("Hint: fix the keys named above; 'tce schema FIELD' lists a field's codes.")
        raise typer.Exit(2)
