"""Render the pack as an Excel workbook (openpyxl): Contents, one sheet per section, Notes.

Every sheet carries the pack's stamps (NOT FOR PUBLICATION, NOT PSEUDONYMISED) in row 2.
Numbers are stored as numbers with formats; symbols (c, x, z) and labels as text. Text that
a spreadsheet could take for a formula (starting with = + - @, a tab or a line break; see
:func:`tce_cli.safe_io.neutralise_formula`) is stored as an explicit string with Excel's quote
prefix, never as a formula. Charts are native Excel charts over a chart-data
block in which suppressed and unavailable values are blank, so Excel draws a gap.
The file is deterministic: document properties and zip entry times are the pack's timestamp.
"""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, MergedCell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from tce_cli import __version__
from tce_cli.report.charts import Points, points
from tce_cli.report.markdown import TITLE
from tce_cli.report.notes import iso_utc
from tce_cli.report.pack import Pack
from tce_cli.report.publish import PublishedSection, PublishedTable, Shown
from tce_cli.safe_io import neutralise_formula

FORMATS = {"count": "#,##0", "percent": "0.0%", "median": "0.0", "number": "0"}
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_FONT = Font(bold=True, color="FFFFFF")
STAMP_FONT = Font(bold=True, color="C00000", size=12)
THIN = Side(style="thin", color="A6A6A6")
BORDER = Border(top=THIN, bottom=THIN, left=THIN, right=THIN)
CHART_ROWS = 16
FIRST_TABLE_ROW = 5


def put_text(cell: Cell | MergedCell, text: str) -> None:
    """Store ``text`` as a string, neutralising anything Excel would run as a formula."""
    if isinstance(cell, MergedCell):
        return
    clean = ILLEGAL_CHARACTERS_RE.sub("", text)
    cell.value = clean
    if neutralise_formula(clean) != clean:
        cell.data_type = "s"
        cell.quotePrefix = True


def _put(ws: Worksheet, row: int, col: int, shown: Shown) -> None:
    cell = ws.cell(row=row, column=col)
    if shown.number is None:
        put_text(cell, shown.text)
        if shown.kind == "symbol":
            cell.alignment = Alignment(horizontal="right")
        return
    number = shown.number / 100 if shown.kind == "percent" else shown.number
    cell.value = int(number) if float(number).is_integer() and shown.kind != "percent" else number
    if shown.kind == "change":
        cell.number_format = "+0.0;-0.0;0" if "." in shown.text else "+#,##0;-#,##0;0"
    else:
        cell.number_format = FORMATS.get(shown.kind, "General")


class _Sheet:
    """Writes tables one under another and tracks column widths."""

    def __init__(self, ws: Worksheet) -> None:
        self.ws = ws
        self.widths: dict[int, int] = {}

    def text(self, row: int, col: int, text: str, font: Font | None = None) -> None:
        cell = self.ws.cell(row=row, column=col)
        put_text(cell, text)
        if font is not None:
            cell.font = font

    def header(self, row: int, labels: list[str]) -> None:
        for j, label in enumerate(labels, 1):
            cell = self.ws.cell(row=row, column=j)
            put_text(cell, label)
            cell.font, cell.fill, cell.border = HEADER_FONT, HEADER_FILL, BORDER
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            self._width(j, min(len(label), 24))

    def table(self, t: PublishedTable, top: int) -> int:
        """Write ``t`` from row ``top``; return the next free row."""
        self.text(top, 1, t.title, Font(bold=True, size=12))
        row = top + 1
        if t.note:
            self.text(row, 1, t.note, Font(italic=True))
            row += 1
        self.header(row, [t.stub, *t.columns])
        for r in t.rows:
            row += 1
            self.text(row, 1, r.label, Font(bold=True) if r.total else None)
            self._width(1, len(r.label))
            for j, shown in enumerate(r.cells, 2):
                _put(self.ws, row, j, shown)
                self._width(j, len(shown.text))
        end = row + 2
        for i, chart in enumerate(t.charts):
            anchor = f"{get_column_letter(len(t.columns) + 3)}{top + i * CHART_ROWS}"
            end = self.chart(points(t, chart), end, anchor)
        return max(end, top + len(t.charts) * CHART_ROWS + 1)

    def chart(self, p: Points, top: int, anchor: str) -> int:
        """Write a chart-data block at ``top`` and a native chart at ``anchor``."""
        if all(v is None for v in p.values):
            return top
        self.text(
            top, 1, f"Chart data: {p.title} (c, x and z left blank: not plotted)", Font(italic=True)
        )
        head = top + 1
        self.header(head, ["Category", p.y_label])
        for i, (label, value) in enumerate(zip(p.labels, p.values, strict=True), 1):
            self.text(head + i, 1, label)
            if value is not None:
                percent = p.y_label == "%"
                cell = self.ws.cell(row=head + i, column=2, value=value / 100 if percent else value)
                cell.number_format = FORMATS["percent" if percent else "count"]
        chart = BarChart() if p.kind == "bar" else LineChart()
        chart.title, chart.display_blanks, chart.legend = p.title, "gap", None
        chart.y_axis.title = p.y_label
        chart.x_axis.delete = chart.y_axis.delete = False
        last = head + len(p.labels)
        chart.add_data(
            Reference(self.ws, min_col=2, min_row=head, max_row=last), titles_from_data=True
        )
        chart.set_categories(Reference(self.ws, min_col=1, min_row=head + 1, max_row=last))
        self.ws.add_chart(chart, anchor)
        return last + 2

    def _width(self, col: int, length: int) -> None:
        self.widths[col] = max(self.widths.get(col, 0), length)

    def finish(self) -> None:
        for col, length in self.widths.items():
            cap = 60 if col == 1 else 28
            self.ws.column_dimensions[get_column_letter(col)].width = min(cap, max(10, length + 2))


def _banner(sheet: _Sheet, title: str, pack: Pack, intro: str) -> None:
    sheet.text(1, 1, title, Font(bold=True, size=14))
    if pack.stamps:
        sheet.text(2, 1, " · ".join(pack.stamps), STAMP_FONT)
    else:
        sheet.text(2, 1, f"{pack.period.label} · generated {iso_utc(pack.generated_at)}")
    sheet.text(3, 1, intro, Font(italic=True))


def _section_sheet(ws: Worksheet, section: PublishedSection, pack: Pack) -> None:
    sheet = _Sheet(ws)
    _banner(sheet, section.title, pack, section.intro)
    row = FIRST_TABLE_ROW
    for table in section.tables:
        row = sheet.table(table, row)
    ws.freeze_panes = f"B{FIRST_TABLE_ROW}"
    sheet.finish()


def _contents(ws: Worksheet, pack: Pack) -> None:
    sheet = _Sheet(ws)
    p = pack.period
    dates = f"{p.start.isoformat()} to {p.end.isoformat()}"
    intro = f"{p.label} ({dates}), generated {iso_utc(pack.generated_at)}"
    _banner(sheet, TITLE, pack, intro)
    sheet.header(FIRST_TABLE_ROW, ["Sheet", "Section", "Tables"])
    for i, section in enumerate(pack.sections, FIRST_TABLE_ROW + 1):
        cell = ws.cell(row=i, column=1)
        put_text(cell, section.sheet)
        cell.hyperlink = Hyperlink(ref=cell.coordinate, location=f"'{section.sheet}'!A1")
        cell.style = "Hyperlink"
        sheet.text(i, 2, section.title)
        ws.cell(row=i, column=3, value=len(section.tables))
        sheet._width(1, len(section.sheet))
        sheet._width(2, len(section.title))
    ws.freeze_panes = f"A{FIRST_TABLE_ROW + 1}"
    sheet.finish()


def workbook_bytes(pack: Pack) -> bytes:
    """The pack as .xlsx bytes."""
    wb = Workbook()
    contents = wb.active
    assert isinstance(contents, Worksheet)
    contents.title = "Contents"
    _contents(contents, pack)
    for section in pack.sections:
        _section_sheet(wb.create_sheet(section.sheet), section, pack)
    moment = pack.generated_at.astimezone(UTC).replace(tzinfo=None)
    wb.properties.title = f"{TITLE}, {pack.period.label}"
    wb.properties.creator = f"tce {__version__}"
    wb.properties.created = wb.properties.modified = moment
    raw = BytesIO()
    archive = ZipFile(raw, "w", ZIP_DEFLATED, allowZip64=True)
    ExcelWriter(wb, archive).save()  # not Workbook.save: that stamps 'modified' with now
    return _fixed_times(raw.getvalue(), pack.generated_at)


def _fixed_times(data: bytes, moment: datetime) -> bytes:
    """Rewrite the zip so every entry carries ``moment`` (byte-identical reruns)."""
    stamp = moment.astimezone(UTC)
    when = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    out = BytesIO()
    with ZipFile(BytesIO(data)) as src, ZipFile(out, "w", ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = ZipInfo(info.filename, date_time=when)
            entry.compress_type = ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()
