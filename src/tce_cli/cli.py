"""The ``tce`` command line: thin commands over the library.

Exit codes (the contract for automation):
  0  ran; nothing at or above --fail-on (default: error)
  1  ran; findings at or above --fail-on
  2  could not run: usage, unreadable input, invalid mapping or config, missing key

Heavy libraries (Polars, openpyxl, Jinja2) are imported inside commands so that
``tce --help`` answers fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tce_cli import __version__
from tce_cli.commands import register_all

app = typer.Typer(
    name="tce",
    help=(
        "Check, harmonise and report agencies' child-exploitation returns for the "
        "Intelligence Framework.\n\n"
        "Exit codes: 0 ran clean; 1 findings at or above --fail-on; 2 could not run."
    ),
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tce {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks for internal errors.")
    ] = False,
) -> None:
    from tce_cli.commands import _common

    _common.STATE.debug = debug


register_all(app)


def main() -> None:
    """Console-script entry point."""
    app()
