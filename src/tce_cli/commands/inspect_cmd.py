"""`tce inspect`: show how tce reads a file (format, encoding, header row, columns)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from tce_cli.commands._common import handle_errors

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_LISTED = 10  # rows listed in the table view before "and N more"


class InspectFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)


@handle_errors
def inspect(
    file: Annotated[Path, typer.Argument(help="The CSV or XLSX file to look at.", metavar="FILE")],
    sheet: Annotated[
        str | None,
        typer.Option("--sheet", "-s", help="Sheet name, or number counting tabs from 1."),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", "-e", help="CSV encoding, e.g. windows-1252 (default: detect)."),
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option("--delimiter", "-d", help="CSV delimiter: , ; | or tab (default: detect)."),
    ] = None,
    header_row: Annotated[
        int | None,
        typer.Option("--header-row", min=1, help="Header's row number as Excel shows it."),
    ] = None,
    fmt: Annotated[
        InspectFormat, typer.Option("--format", "-f", help="table, or json (adds the rows).")
    ] = InspectFormat.TABLE,
) -> None:
    """Show what tce detects in a file: encoding, delimiter, header row, blank and ragged
    rows, duplicate or blank headers, and each column's fill rate and (when there are at
    most 12) its distinct values with counts.

    The values come from your file: share the output only as you would share the file.
    """
    from tce_cli import console
    from tce_cli.read import profile_table, read_table, sheet_names

    table = read_table(
        file, sheet=sheet, encoding=encoding, delimiter=delimiter, header_row=header_row
    )
    sheets = sheet_names(file) if table.info.format == "xlsx" else None
    payload = profile_table(table, sheets=sheets)
    if fmt is InspectFormat.JSON:
        console.print_json({**payload, "rows": table.frame.to_dicts()})
        return
    _show_summary(payload)
    _show_columns(payload)


def _show_summary(p: dict[str, Any]) -> None:
    from rich.table import Table

    from tce_cli import console

    table = Table(
        title=console.plain(Path(p["file"]).name), show_header=False, title_justify="left"
    )
    table.add_column(style="bold")
    table.add_column()
    for label, value in _summary_rows(p):
        table.add_row(label, console.plain(value))
    console.stdout.print(table)


def _summary_rows(p: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("Format", p["format"].upper())]
    if p["format"] == "xlsx":
        rows.append(("Sheet", f"{p['sheet']}  (sheets: {', '.join(p['sheets'] or [])})"))
    else:
        delim = p["delimiter"]
        rows += [
            ("Encoding", p["encoding"]),
            ("Delimiter", f"{delim!r} ({_DELIMITER_NAMES.get(delim, 'other')})"),
            ("Line endings", p["line_endings"] or "none (one line)"),
        ]
    header = p["header_row"]
    skipped = f"  (rows 1-{header - 1} above it skipped)" if header > 2 else ""
    skipped = "  (row 1 above it skipped)" if header == 2 else skipped
    rows.append(("Header row", f"{header}{skipped}"))
    n = p["n_rows"]
    span = f"  (rows {header + 1}-{header + n})" if n else ""
    rows.append(("Data rows", f"{n:,}{span}"))
    rows.append(("Blank rows", _listed([str(r) for r in p["blank_rows"]])))
    ragged = [f"{r['row']} ({r['cells']} cells)" for r in p["ragged_rows"]]
    width = len(p["original_headers"])
    rows.append(("Ragged rows", _listed(ragged) + (f"  [header: {width}]" if ragged else "")))
    rows.append(("Duplicate headers", _listed(p["duplicate_headers"])))
    rows.append(("Blank headers", _listed([f"column {c}" for c in p["blank_headers"]])))
    return rows


def _listed(items: list[str]) -> str:
    if not items:
        return "none"
    shown = ", ".join(items[:_LISTED])
    more = len(items) - _LISTED
    return f"{len(items)}: {shown}" + (f" and {more} more" if more > 0 else "")


def _show_columns(p: dict[str, Any]) -> None:
    from rich.table import Table

    from tce_cli import console

    table = Table("#", "column", "filled", "fill %", "distinct", "values (when 12 or fewer)")
    for i, col in enumerate(p["columns"], start=1):
        values = col["values"]
        shown = ", ".join(f"{_short(v['value'])} ({v['count']:,})" for v in values or [])
        table.add_row(
            str(i),
            console.plain(col["name"]),
            f"{col['filled']:,}",
            f"{col['fill_pct']:.1f}",
            f"{col['distinct']:,}",
            console.plain(shown if values is not None else "-"),
        )
    console.stdout.print(table)


def _short(value: str, limit: int = 30) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
