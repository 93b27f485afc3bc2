"""Export one period of the harmonised store for analysts: CSV, Excel or Parquet.

- CSV: lists joined with ``;``, dates ISO, text cells neutralised against formula injection.
- XLSX: written in constant memory; styled, filtered, frozen header, set widths, real date
  cells, text stored as text; a "Codes" sheet lists every code field's codes and labels.
  Excel is slow for bulk tables (about a second per 1,000 rows of the 51 store columns,
  measured without lxml): prefer CSV or Parquet for those.
- Parquet: the stored columns and types, unchanged.

Files are written atomically. A store made with ``--no-pseudonymise`` gets "NOT-PSEUDONYMISED"
in the file name, and a banner row in Excel.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from tce_cli.errors import ConfigError, OutputError, StoreError
from tce_cli.periods import Period
from tce_cli.safe_io import atomic_path, output_error, text_table
from tce_cli.schema import load_schema
from tce_cli.store import PARQUET_OPTIONS, Store, store_schema

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

NOT_PSEUDONYMISED = "NOT-PSEUDONYMISED"
BANNER = (
    "NOT PSEUDONYMISED: made with --no-pseudonymise for local testing. person_key values can "
    "be reversed by anyone. Do not share."
)
EXCEL_MAX_ROWS = 1_048_576
_MAX_WIDTH = 60
_SAMPLE_ROWS = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    path: Path
    format: ExportFormat
    period: str
    rows: int
    columns: int
    pseudonymised: bool


def export_format_for(out: Path | None, fmt: ExportFormat | None) -> ExportFormat:
    """The format to write: ``fmt`` when given, else from ``out``'s extension, else CSV.

    Raises:
        ConfigError: the extension is not csv, xlsx or parquet and no format was given.
    """
    if fmt is not None:
        return fmt
    if out is None or out.is_dir() or not out.suffix:
        return ExportFormat.CSV
    suffix = out.suffix.lower().lstrip(".")
    try:
        return ExportFormat(suffix)
    except ValueError:
        raise ConfigError(
            f"Cannot tell the export format from '{out.name}'.",
            hint="Use a .csv, .xlsx or .parquet file name, or pass --format.",
        ) from None


def default_name(period: Period, fmt: ExportFormat) -> str:
    """The file name used when --out is a folder or not given."""
    return f"tce-harmonised-{period.slug}.{fmt.value}"


PROVENANCE_KEY = "tce_provenance"
"""Parquet metadata key holding the store's marker and the period's manifest (JSON)."""


def provenance(store: Store, period: Period) -> dict[str, str]:
    """Where a Parquet export came from, so another store can load it safely
    (``tce harmonise --from-pseudonymised``): key fingerprint, schema version, manifest."""
    import json

    marker = store.marker()
    payload = {
        "period": period.label,
        "pseudonymised": bool(marker and marker.pseudonymised),
        "key_fingerprint": marker.key_fingerprint if marker else None,
        "manifest": store.manifest(period),
    }
    return {PROVENANCE_KEY: json.dumps(payload, sort_keys=True)}


def export_period(store: Store, period: Period, fmt: ExportFormat, out: Path) -> ExportResult:
    """Write ``period`` of ``store`` to ``out`` (a file, or a folder to put the file in).

    Raises:
        StoreError: no store there, or no data for ``period`` (names the periods it has).
        OutputError: ``out`` cannot be written.
    """
    marker = store.marker()
    if marker is None:
        raise StoreError(
            f"No tce store at '{store.root}'.",
            hint="Pass --store DIR (or set 'store' in tce.toml), or run 'tce harmonise' first.",
        )
    lazy = store.scan(period)
    expected = list(store_schema())
    lazy = lazy.select([c for c in expected if c in lazy.collect_schema().names()])
    target = out / default_name(period, fmt) if out.is_dir() else out
    if not marker.pseudonymised and NOT_PSEUDONYMISED not in target.name.upper():
        target = target.with_name(f"{target.stem}-{NOT_PSEUDONYMISED}{target.suffix}")
    rows = int(lazy.select(pl.len()).collect().item())
    if fmt is ExportFormat.XLSX and rows + 2 > EXCEL_MAX_ROWS:
        raise OutputError(
            f"{period} has {rows:,} rows; an Excel sheet holds at most {EXCEL_MAX_ROWS:,}.",
            hint="Use --format csv or --format parquet for this table.",
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, target) from exc
    with atomic_path(target) as tmp:
        if fmt is ExportFormat.CSV:
            text_table(lazy).sink_csv(tmp)
        elif fmt is ExportFormat.PARQUET:
            lazy.sink_parquet(tmp, **PARQUET_OPTIONS, metadata=provenance(store, period))
        else:
            write_xlsx(lazy.collect(), tmp, banner=None if marker.pseudonymised else BANNER)
    return ExportResult(
        path=target,
        format=fmt,
        period=period.label,
        rows=rows,
        columns=len(lazy.collect_schema()),
        pseudonymised=marker.pseudonymised,
    )


def codes_rows() -> list[tuple[str, str, str]]:
    """(field, code, label) for every code field of the store, in column order."""
    schema = load_schema()
    lists: dict[str, str | None] = {f.name: f.codes for f in schema.fields}
    lists |= {d.name: d.codes for d in schema.derived}
    return [
        (name, code, label)
        for name in store_schema()
        if lists.get(name)
        for code, label in schema.code_lists[str(lists[name])].items()
    ]


def write_xlsx(frame: pl.DataFrame, path: Path, *, banner: str | None = None) -> None:
    """Write ``frame`` to an Excel workbook in write-only (constant-memory) mode.

    Lists are joined with ``;``; text is stored as text (never as a formula); dates are date
    cells shown ``yyyy-mm-dd``. An optional ``banner`` goes in row 1 above the header.
    """
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Harmonised")
    flat = frame.with_columns(
        pl.col(c).cast(pl.List(pl.String)).list.join(";")
        for c, t in frame.schema.items()
        if isinstance(t, pl.List)
    )
    header_row = 2 if banner else 1
    _layout(sheet, flat, header_row)
    if banner:
        sheet.append([_styled(sheet, banner, banner=True)])
    sheet.append([_styled(sheet, name) for name in flat.columns])
    for row in flat.iter_rows():
        sheet.append([_text_cell(sheet, v) if isinstance(v, str) else v for v in row])
    codes = workbook.create_sheet("Codes")
    codes.freeze_panes = "A2"
    codes.column_dimensions["A"].width = 28
    codes.column_dimensions["B"].width = 20
    codes.column_dimensions["C"].width = 50
    codes.append([_styled(codes, h) for h in ("field", "code", "label")])
    for field, code, label in codes_rows():
        codes.append([field, _text_cell(codes, code), _text_cell(codes, label)])
    try:
        workbook.save(path)
    except OSError as exc:
        raise output_error(exc, path) from exc


def _layout(sheet: Any, frame: pl.DataFrame, header_row: int) -> None:
    # sheet: a WriteOnlyWorksheet; its stubs lack the layout attributes it has at run time.
    from openpyxl.utils import get_column_letter

    last = get_column_letter(max(frame.width, 1))
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.auto_filter.ref = f"A{header_row}:{last}{header_row + max(frame.height, 1)}"
    sample = frame.head(_SAMPLE_ROWS).select(
        pl.col(c).cast(pl.String).str.len_chars().max().fill_null(0) for c in frame.columns
    )
    for index, name in enumerate(frame.columns, start=1):
        width = max(len(name) + 3, int(sample[name][0] or 0) + 2, 8)
        sheet.column_dimensions[get_column_letter(index)].width = min(width, _MAX_WIDTH)


def _styled(sheet: WriteOnlyWorksheet, value: str, *, banner: bool = False) -> Any:
    from openpyxl.styles import Font, PatternFill

    cell = _as_text(sheet, value)
    cell.font = Font(bold=True, color="FFFFFF")
    cell.fill = PatternFill("solid", fgColor="C00000" if banner else "1F4E78")
    return cell


def _text_cell(sheet: WriteOnlyWorksheet, value: str) -> Any:
    """Plain text as is; text a spreadsheet would run as a formula (or holding control
    characters a worksheet cannot store) as an explicit, quoted text cell."""
    risky = value.startswith(_FORMULA_START) or not value.isprintable()
    return _as_text(sheet, value) if risky else value


def _as_text(sheet: WriteOnlyWorksheet, value: str) -> Any:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
    cell.quotePrefix = True  # and Excel keeps it text even after the cell is edited
    return cell
