"""Read agency exports (CSV or XLSX) into a frame of text cells, and report what was found.

>>> table = read_table(Path("bolton.csv"))          # doctest: +SKIP
>>> table.info.encoding, table.info.header_row       # doctest: +SKIP
('windows-1252', 4)

Every data column is ``pl.String`` (stripped; empty -> null) and ``_row`` holds the row
number Excel shows, so findings can point at the right row.
"""

from __future__ import annotations

from pathlib import Path

from tce_cli.errors import ConfigError, InputFileError
from tce_cli.read import _sniff
from tce_cli.read._csv import read_csv_grid
from tce_cli.read._model import ROW_COLUMN, Format, RawTable, ReadInfo
from tce_cli.read._pieces import CsvPieces, PieceMismatch, open_pieces
from tce_cli.read._profile import profile_table
from tce_cli.read._table import Layout, build_layout, detect_header
from tce_cli.read._xlsx import read_xlsx_grid, sheet_names

__all__ = [
    "ROW_COLUMN",
    "CsvPieces",
    "PieceMismatch",
    "Format",
    "RawTable",
    "ReadInfo",
    "detect_header",
    "profile_table",
    "read_pieces",
    "read_table",
    "sheet_names",
]


def read_table(
    path: Path,
    *,
    sheet: str | int | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    header_row: int | None = None,
    format: Format | None = None,
) -> RawTable:
    """Read a CSV or XLSX file as text, detecting what is not given.

    Args:
        path: the file. Its content decides the format (a zip is a workbook, text is CSV),
            whatever its extension, unless ``format`` is given.
        sheet: workbook sheet name, or its 1-based tab position (hidden sheets count).
            Default: the first visible sheet with data. Ignored for CSV.
        encoding: CSV text encoding; default detects UTF-8 (with or without BOM) or
            Windows-1252. Ignored for XLSX.
        delimiter: CSV delimiter; default sniffs among , ; tab |. Ignored for XLSX.
        header_row: 1-based row number of the header as Excel shows it; default detects
            it, skipping title rows.
        format: "csv" or "xlsx" to skip detection.

    Raises:
        InputFileError: the file is missing, empty, not CSV/XLSX, corrupt or undecodable.
        ConfigError: an option is invalid (unknown encoding, bad delimiter, row < 1).
    """
    path = Path(path)
    _check_options(header_row, format)
    head = _head(path)
    fmt = _sniff.detect_format(path, head, format)
    if fmt == "xlsx":
        return _read_xlsx(path, sheet=sheet, header_row=header_row)
    return _read_csv(path, head, encoding=encoding, delimiter=delimiter, header_row=header_row)


def read_pieces(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    header_row: int | None = None,
    format: Format | None = None,
) -> CsvPieces | None:
    """A CSV file to be read a piece at a time (see _pieces), or None when it should be read
    whole with ``read_table``: a workbook, a file of one piece, or one the pieces cannot read
    exactly as ``read_table`` would. Options and errors as ``read_table``'s."""
    path = Path(path)
    _check_options(header_row, format)
    head = _head(path)
    if _sniff.detect_format(path, head, format) != "csv":
        return None
    _sniff.check_text(path, head)
    return open_pieces(path, head, encoding=encoding, delimiter=delimiter, header_row=header_row)


def _read_csv(
    path: Path, head: bytes, *, encoding: str | None, delimiter: str | None, header_row: int | None
) -> RawTable:
    _sniff.check_text(path, head)
    grid, meta = read_csv_grid(path, head, encoding=encoding, delimiter=delimiter)
    layout = build_layout(grid, name=path.name, header_row=header_row)
    return _raw_table(path, "csv", layout, meta.encoding, meta.delimiter, meta.line_endings, None)


def _read_xlsx(path: Path, *, sheet: str | int | None, header_row: int | None) -> RawTable:
    grid, name = read_xlsx_grid(path, sheet)
    layout = build_layout(grid, name=f"{path.name} (sheet '{name}')", header_row=header_row)
    return _raw_table(path, "xlsx", layout, None, None, None, name)


def _raw_table(
    path: Path,
    fmt: Format,
    layout: Layout,
    encoding: str | None,
    delimiter: str | None,
    line_endings: str | None,
    sheet: str | None,
) -> RawTable:
    info = ReadInfo(
        path=path,
        format=fmt,
        encoding=encoding,
        delimiter=delimiter,
        line_endings=line_endings,
        sheet=sheet,
        header_row=layout.header_row,
        columns=layout.columns,
        original_headers=layout.original_headers,
        duplicate_headers=layout.duplicate_headers,
        blank_headers=layout.blank_headers,
        ragged_rows=layout.ragged_rows,
        blank_rows=layout.blank_rows,
        n_rows=layout.frame.height,
    )
    return RawTable(frame=layout.frame, info=info)


def _check_options(header_row: int | None, fmt: str | None) -> None:
    if header_row is not None and header_row < 1:
        raise ConfigError(
            f"Header row {header_row} is not a row number.",
            hint="Rows count from 1, as Excel shows them.",
        )
    if fmt not in (None, "csv", "xlsx"):
        raise ConfigError(f"Unknown format '{fmt}'.", hint="Use csv or xlsx.")


def _head(path: Path) -> bytes:
    """Return the file's first bytes (enough for a CSV sample), turning missing files and
    folders into errors."""
    if not path.exists():
        raise InputFileError(
            f"{path} not found.", hint="Check the path and the file name (and its extension)."
        )
    if path.is_dir():
        raise InputFileError(
            f"{path} is a folder, not a file.", hint="Give the path of a .csv or .xlsx file."
        )
    with _sniff.readable(path), path.open("rb") as handle:
        return handle.read(_sniff.SAMPLE_BYTES + len(_sniff.UTF8_BOM) + 1)
