"""`tce export`: the harmonised table of one period as CSV, Excel or Parquet."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from tce_cli.commands._common import StoreOption, handle_errors


class FileFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"


def register(app: typer.Typer) -> None:
    app.command("export")(export)


@handle_errors
def export(
    period: Annotated[
        str, typer.Option("--period", "-p", help="Quarter to export, e.g. '2026-27 Q2'.")
    ],
    fmt: Annotated[
        FileFormat | None,
        typer.Option("--format", "-f", help="csv, xlsx or parquet (default: from --out, csv)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="File or folder to write (default: the output folder)."),
    ] = None,
    store: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Export one period of the harmonised store for analysts.

    CSV and Excel join lists with ';', write dates as YYYY-MM-DD and keep text cells from
    being run as formulas. Excel adds a Codes sheet; it is slow for big tables (about a
    second per 1,000 rows), so prefer CSV or Parquet for bulk work. Parquet keeps the stored types.

    Exit codes: 0 written; 2 no store, unknown period, or the file cannot be written.
    """
    from tce_cli import console
    from tce_cli.config import load_config, resolve
    from tce_cli.export import ExportFormat, default_name, export_format_for, export_period
    from tce_cli.periods import parse_period
    from tce_cli.store import Store

    config = load_config(Path.cwd())
    chosen_period = parse_period(period)
    chosen = export_format_for(out, ExportFormat(fmt.value) if fmt else None)
    target = resolve(out, config.output / default_name(chosen_period, chosen))
    with console.progress_status(f"Exporting {chosen_period} as {chosen}", enabled=not as_json):
        result = export_period(Store(resolve(store, config.store)), chosen_period, chosen, target)
    if as_json:
        console.print_json(
            {
                "path": str(result.path),
                "format": result.format.value,
                "period": result.period,
                "rows": result.rows,
                "columns": result.columns,
                "pseudonymised": result.pseudonymised,
            }
        )
        return
    console.stdout.out(
        f"Wrote {result.rows} rows of {result.period} to {result.path} ({result.format.value})."
    )
    if not result.pseudonymised:
        console.info("Warning: this store is NOT pseudonymised; do not share the export.")
