"""Write the pack's files: measures.csv always, pack.md and pack.xlsx on request.

Every file is rendered in memory first (a template error writes nothing), then all are written
with :func:`tce_cli.safe_io.write_files_atomically`: staged in a temporary folder inside the
output folder and moved into place with ``os.replace``, all or nothing, so a crash never leaves a
half-written pack. Text a spreadsheet would run as a formula is neutralised in the CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from tce_cli.report.pack import TIDY_COLUMNS, Pack
from tce_cli.safe_io import Writer, neutralise_formula, write_files_atomically

CSV_NAME = "measures.csv"
MARKDOWN_NAME = "pack.md"
WORKBOOK_NAME = "pack.xlsx"


def tidy_csv(pack: Pack) -> str:
    """``measures.csv``: one row per published cell, EES tidy columns, values as text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TIDY_COLUMNS)
    for row in pack.tidy:
        writer.writerow([neutralise_formula(v) for v in row])
    return buffer.getvalue()


def render_files(
    pack: Pack, formats: Sequence[str], templates: Path | None = None
) -> dict[str, bytes]:
    """File name -> bytes of every output, rendered in memory."""
    from tce_cli.report.markdown import render_markdown

    files = {CSV_NAME: tidy_csv(pack).encode("utf-8")}
    if "md" in formats:
        files[MARKDOWN_NAME] = render_markdown(pack, templates).encode("utf-8")
    if "xlsx" in formats:
        from tce_cli.report.workbook import workbook_bytes

        files[WORKBOOK_NAME] = workbook_bytes(pack)
    return files


def _bytes_writer(data: bytes) -> Writer:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write


def write_pack(
    pack: Pack, folder: Path, formats: Sequence[str], templates: Path | None = None
) -> list[Path]:
    """Render the pack, then write all its files at once; return the files written.

    Raises:
        OutputError: the folder cannot be written (then no file has changed).
        ConfigError: a template error (then nothing has been written).
    """
    files = render_files(pack, formats, templates)
    write_files_atomically(folder, {name: _bytes_writer(data) for name, data in files.items()})
    return [folder / name for name in files]
