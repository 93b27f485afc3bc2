"""Read one sheet of an .xlsx workbook into a grid of text cells, with calamine (fastexcel).

Every cell is read as text by calamine, so a column mixing dates, numbers and text never
fails. Calamine writes whole numbers without ``.0`` and dates as ``YYYY-MM-DD HH:MM:SS``; the
midnight time is dropped here so a date cell reads ``YYYY-MM-DD``, and a time-only cell reads
``HH:MM:SS``. Rows above the first used row are kept, so row numbers match Excel's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    if sheet is None:
        name, frame = _first_with_data(path, reader, names)
    else:
        name = _resolve(path, names, sheet)
        frame = _load(path, reader, name)[0]
    return Grid(frame=_as_text(frame), cells=None), name


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
