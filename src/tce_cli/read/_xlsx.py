"""Read one sheet of an .xlsx workbook into a grid of text cells, with calamine (fastexcel).

Every cell is read as text by calamine, so a column mixing dates, numbers and text never
fails. Calamine writes whole numbers without ``.0`` and dates as ``YYYY-MM-DD HH:MM:SS``; the
midnight time is dropped here so a date cell reads ``YYYY-MM-DD``, and a time-only cell reads
``HH:MM:SS``. Rows above the first used row are kept, so row numbers match Excel's.

Calamine reads Excel's error cells (``#N/A``, ``#DIV/0!``, ``#VALUE!``, ...) as empty; they
are put back as their text from the sheet's XML, so a check reports the value the agency sees
(``'#N/A' is not a valid date``) rather than a missing one. A formula saved without a value
(a workbook written by a program, never opened in Excel) still reads as empty.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree

import polars as pl

from tce_cli.errors import InputFileError
from tce_cli.read._model import Grid

_MIDNIGHT = r"^(\d{4}-\d{2}-\d{2}) 00:00:00$"
_TIME_ONLY = r"^1899-12-31 (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$"  # serials below 1 are times of day


def sheet_names(path: Path) -> list[str]:
    """List a workbook's sheet names in tab order (hidden sheets included).

    Raises:
        InputFileError: the workbook cannot be opened.
    """
    return list(_open(path).sheet_names)


def read_xlsx_grid(path: Path, sheet: str | int | None) -> tuple[Grid, str]:
    """Read a sheet (by name, or 1-based tab position) as a grid; return it and its name.

    With ``sheet=None`` the first visible sheet holding data is read.

    Raises:
        InputFileError: corrupt workbook, sheet not found, or no data on any sheet.
    """
    reader = _open(path)
    names: list[str] = list(reader.sheet_names)
    guess = _resolve(path, names, sheet) if sheet is not None else names[0] if names else ""
    with ThreadPoolExecutor(1) as pool:  # the error cells are looked for while calamine reads
        errors = pool.submit(_error_cells, path, guess)
        if sheet is None:
            name, frame = _first_with_data(path, reader, names)
        else:
            name, frame = guess, _load(path, reader, guess)[0]
        found = errors.result() if name == guess else _error_cells(path, name)
    return Grid(frame=_with_errors(_as_text(frame), found), cells=None), name


def _open(path: Path) -> Any:
    import fastexcel

    try:
        return fastexcel.read_excel(str(path))
    except (fastexcel.FastExcelError, OSError, ValueError):
        raise _corrupt(path) from None


def _corrupt(path: Path) -> InputFileError:
    return InputFileError(
        f"{path.name} is not a readable Excel workbook (it may be damaged or incomplete).",
        hint="Open it in Excel and save it again as .xlsx, or export the sheet as 'CSV UTF-8'.",
    )


def _load(path: Path, reader: Any, name: str) -> tuple[pl.DataFrame, bool]:
    """Load a sheet as text; return it and whether the sheet is visible."""
    import fastexcel

    try:
        sheet = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")
        frame = sheet.to_polars()
    except (fastexcel.FastExcelError, OSError, ValueError):
        raise _corrupt(path) from None
    if not isinstance(frame, pl.DataFrame):  # pragma: no cover - fastexcel contract
        raise _corrupt(path)
    return frame, sheet.visible == "visible"


def _first_with_data(path: Path, reader: Any, names: list[str]) -> tuple[str, pl.DataFrame]:
    hidden: tuple[str, pl.DataFrame] | None = None
    for name in names:
        frame, visible = _load(path, reader, name)
        if frame.height and frame.width:
            if visible:
                return name, frame
            hidden = hidden or (name, frame)
    if hidden is not None:
        return hidden
    raise InputFileError(
        f"{path.name} has no data on any sheet.",
        hint="Check you exported the right workbook and that it has data.",
    )


def _resolve(path: Path, names: list[str], sheet: str | int) -> str:
    """Find a sheet by exact name, then by name ignoring case and spaces, then by number."""
    if isinstance(sheet, str):
        if sheet in names:
            return sheet
        folded = {n.strip().casefold(): n for n in names}
        if sheet.strip().casefold() in folded:
            return folded[sheet.strip().casefold()]
        if not sheet.strip().isdigit():
            raise _no_sheet(path, names, f"'{sheet}'")
        sheet = int(sheet)
    if 1 <= sheet <= len(names):
        return names[sheet - 1]
    raise _no_sheet(path, names, f"number {sheet}")


def _no_sheet(path: Path, names: list[str], which: str) -> InputFileError:
    listed = ", ".join(f"'{n}'" for n in names)
    return InputFileError(
        f"Sheet {which} not found in {path.name}; its sheets are {listed}.",
        hint="Pass --sheet with one of those names, or a number counting tabs from 1.",
    )


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Name the columns c0..cN and turn calamine's date-time text into ISO dates and times."""
    renamed = frame.rename({old: f"c{i}" for i, old in enumerate(frame.columns)})
    return renamed.select(
        pl.all().cast(pl.String).str.replace(_MIDNIGHT, "${1}").str.replace(_TIME_ONLY, "${1}")
    )


# --- error cells -------------------------------------------------------------------------

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_ERROR_TAG = re.compile(rb'<c\b[^>]*\bt="e"[^>]*>')
_REF = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_VALUE = re.compile(rb"<v>([^<]*)</v>")
_VALUED = re.compile(rb'<c r="([A-Z]{1,3})\d+"[^>]*>(?:<f[^>]*(?:/>|>[^<]*</f>))?<(?:v|is)>')


_UNREADABLE = (
    KeyError,
    OSError,
    ValueError,
    EOFError,
    NotImplementedError,  # a compression method zipfile lacks
    RuntimeError,  # an encrypted member
    zipfile.BadZipFile,
    zlib.error,
    ElementTree.ParseError,
)


@dataclass(frozen=True)
class _ErrorCells:
    """A sheet's error cells: (0-based row, column letters, text), and its used columns."""

    cells: list[tuple[int, bytes, str]]
    first: int
    last: int


def _error_cells(path: Path, name: str) -> _ErrorCells | None:
    """The error cells of sheet ``name``, from its XML (None when it has none, or is unreadable)."""
    try:
        with zipfile.ZipFile(path) as book:
            xml = book.read(_sheet_part(book, name))
    except _UNREADABLE:  # calamine reports a damaged workbook; here it only means no errors
        return None
    if b't="e"' not in xml:
        return None
    cells = []
    for tag in _ERROR_TAG.finditer(xml):
        ref = _REF.search(tag.group(0))
        end = xml.find(b"</c>", tag.end())
        value = _VALUE.search(xml, tag.end(), end) if end >= 0 else None
        if ref is not None and value is not None:
            text = value.group(1).decode("utf-8", "replace")
            cells.append((int(ref.group(2)) - 1, ref.group(1), text))
    first, last = _used_columns(xml)
    return _ErrorCells(cells, first, last)


def _with_errors(frame: pl.DataFrame, errors: _ErrorCells | None) -> pl.DataFrame:
    """``frame`` (a sheet read by calamine) with its error cells' text put back.

    Calamine's first column is the first one holding a value; if the columns cannot be lined
    up for sure (their count differs from the frame's, or calamine read a value where an
    error cell should be), the frame is returned as it is, so error cells read as empty.
    """
    if errors is None or errors.last - errors.first + 1 != frame.width:
        return frame
    found: dict[int, tuple[list[int], list[str]]] = {}
    for row, letters, text in errors.cells:
        column = _column_index(letters) - errors.first
        if 0 <= row < frame.height and 0 <= column < frame.width:
            rows, texts = found.setdefault(column, ([], []))
            rows.append(row)
            texts.append(text)
    for column, (rows, _) in found.items():
        if not frame.get_column(f"c{column}").gather(rows).is_null().all():
            return frame  # calamine read a value there: the cells are not where we think
    return frame.with_columns(
        frame.get_column(f"c{column}").clone().scatter(rows, pl.Series(texts, dtype=pl.String))
        for column, (rows, texts) in sorted(found.items())
    )


def _used_columns(xml: bytes) -> tuple[int, int]:
    """(first, last) column with a cell holding a value, as calamine counts them."""
    columns = {_column_index(letters) for letters in set(_VALUED.findall(xml))}
    return (min(columns), max(columns)) if columns else (0, -1)


def _sheet_part(book: zipfile.ZipFile, name: str) -> str:
    """The zip member holding sheet ``name``'s XML (via the workbook and its relationships)."""
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    rel_id = next(
        s.get(f"{_REL}id") for s in workbook.iter(f"{_MAIN}sheet") if s.get("name") == name
    )
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    target = next(
        r.get("Target") for r in rels.iter(f"{_PKG}Relationship") if r.get("Id") == rel_id
    )
    if target is None:
        raise KeyError(name)
    if target.startswith("/"):
        return target.lstrip("/")
    return str(PurePosixPath("xl") / target)


def _column_index(letters: bytes) -> int:
    """0-based index of a column named like ``A``, ``Z``, ``AA``."""
    index = 0
    for letter in letters:
        index = index * 26 + letter - ord("A") + 1
    return index - 1
