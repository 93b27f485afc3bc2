"""Outputs of `tce validate` for people: the agency feedback workbook and findings files.

The feedback workbook is the one output that carries the agency's own record ids: it goes
back to the agency that owns the data, so they can find each row in their system.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from tce_cli.errors import OutputError
from tce_cli.safe_io import atomic_write_bytes, neutralise_expr, neutralise_formula

if TYPE_CHECKING:
    from tce_cli.pipeline import FileResult, ValidationResult

HEADER_FILL = "1F4E78"
FINDING_SHEET_COLUMNS = (
    ("Record id", "record_id", 18),
    ("Row", "source_row", 8),
    ("Column", "column", 26),
    ("Severity", "severity", 10),
    ("Rule", "code", 24),
    ("What is wrong", "message", 70),
    ("How to fix", "hint", 60),
    ("File", "source_file", 36),
)


def findings_for_people(result: ValidationResult, *, acknowledged: bool = False) -> pl.DataFrame:
    """Findings with the agency's column name beside the framework field, errors first
    (``acknowledged``: the acknowledged ones instead of those outstanding)."""
    frames = []
    for f in result.files:
        columns = {
            k: (v[0] if len(v) == 1 else "flag columns")
            for k, v in f.resolution.columns.items()
            if v
        }
        found = f.acknowledged if acknowledged else f.findings
        frames.append(
            found.with_columns(
                pl.col("field")
                .replace_strict(columns, default=pl.col("field"), return_dtype=pl.String)
                .alias("column")
            )
        )
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames)


def findings_bytes(result: ValidationResult, path: Path) -> bytes:
    """Every finding as CSV or JSON (by ``path``'s extension), text cells neutralised against
    formulas; rendered in memory so a failure writes nothing."""
    table = findings_for_people(result)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise OutputError(
            f"--findings-out must end in .csv or .json, not '{path.suffix}'.",
            hint="For example: --findings-out findings.csv",
        )
    if suffix == ".csv":
        text_cols = [c for c, t in table.schema.items() if t == pl.String]
        text = table.with_columns([neutralise_expr(c).alias(c) for c in text_cols]).write_csv()
    else:
        text = table.write_json()
    return text.encode("utf-8")


def write_findings(result: ValidationResult, path: Path) -> None:
    """Write :func:`findings_bytes` to ``path`` atomically."""
    atomic_write_bytes(path, findings_bytes(result, path))


def feedback_bytes(result: ValidationResult, path: Path, *, generated_at: str) -> bytes:
    """The agency feedback workbook (Summary, Findings with record id first, and the
    Acknowledged queries when there are any), in memory."""
    from openpyxl import Workbook

    if path.suffix.lower() != ".xlsx":
        raise OutputError(
            f"--feedback must be an .xlsx file, not '{path.name}'.",
            hint="For example: --feedback bolton-feedback.xlsx",
        )
    wb = Workbook(write_only=True)
    _summary_sheet(wb, result, generated_at)
    _findings_sheet(wb, findings_for_people(result), "Findings")
    explained = findings_for_people(result, acknowledged=True)
    if explained.height:
        _findings_sheet(wb, explained, "Acknowledged")
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def write_feedback(result: ValidationResult, path: Path, *, generated_at: str) -> None:
    """Write :func:`feedback_bytes` to ``path`` atomically."""
    atomic_write_bytes(path, feedback_bytes(result, path, generated_at=generated_at))


def _styled_header(ws: Any, titles: list[str]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    cells = []
    for title in titles:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
        cells.append(cell)
    ws.append(cells)


def _text_cell(ws: Any, value: Any) -> Any:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):
        # Control characters (a record id or code value pasted with them) cannot be stored
        # in a worksheet: openpyxl would refuse the whole workbook, quoting the value.
        clean = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell = WriteOnlyCell(ws, value=neutralise_formula(clean))
        cell.data_type = "s"
        cell.number_format = "@"
        return cell
    return WriteOnlyCell(ws, value=value)


def _summary_sheet(wb: Any, result: ValidationResult, generated_at: str) -> None:
    from tce_cli.pipeline import summary_by_rule

    ws = wb.create_sheet("Summary")
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 60
    ws.column_dimensions["C"].width = 10
    ws.column_dimensions["D"].width = 10
    ws.append(["tce validation feedback"])
    ws.append(["Generated", generated_at])
    for f in result.files:
        ws.append([])
        for label, value in _file_lines(f):
            ws.append([_text_cell(ws, label), _text_cell(ws, value)])
        ws.append([])
        _styled_header(ws, ["Rule", "What it means", "Severity", "Count"])
        for row in summary_by_rule(f.findings):
            ws.append(
                [
                    _text_cell(ws, str(row["code"])),
                    _text_cell(ws, str(row["title"])),
                    _text_cell(ws, str(row["severity"])),
                    row["count"],
                ]
            )


def _file_lines(f: FileResult) -> list[tuple[str, object]]:
    return [
        ("File", f.path.name),
        ("Agency", f"{f.mapping.agency.name} ({f.mapping.agency.id})"),
        ("Period", f.period.label),
        ("Rows read", f.rows_read),
        ("Rows with errors (will be rejected)", len(f.rejected_rows())),
        ("Errors", int((f.findings["severity"] == "error").sum())),
        ("Queries (fix or explain)", int((f.findings["severity"] == "query").sum())),
        ("Acknowledged (explained before; not counted)", f.acknowledged.height),
    ]


def _findings_sheet(wb: Any, table: pl.DataFrame, title: str) -> None:
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title)
    for i, (_, _, width) in enumerate(FINDING_SHEET_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    last = get_column_letter(len(FINDING_SHEET_COLUMNS))
    ws.auto_filter.ref = f"A1:{last}{max(table.height, 0) + 1}"
    _styled_header(ws, [title for title, _, _ in FINDING_SHEET_COLUMNS])
    if table.height == 0:
        return
    keys = [key for _, key, _ in FINDING_SHEET_COLUMNS]
    for row in table.select(keys).iter_rows():
        ws.append([_text_cell(ws, v) for v in row])
