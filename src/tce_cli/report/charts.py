"""Chart data shared by the Markdown (Mermaid) and Excel renderers.

Suppressed (``c``) and unavailable (``x``, ``z``) values are never plotted as numbers: they are
left out of Mermaid charts (and listed under the chart) and left blank in Excel chart data (so
Excel draws a gap).
"""

from __future__ import annotations

from dataclasses import dataclass

from tce_cli.report.model import Chart
from tce_cli.report.publish import PublishedTable, Shown

PLOTTABLE = ("count", "percent", "median")


@dataclass(frozen=True)
class Points:
    """The labelled values of one chart; ``value`` is None where the cell is not plotted."""

    title: str
    y_label: str
    kind: str
    labels: tuple[str, ...]
    values: tuple[float | None, ...]
    shown: tuple[Shown, ...]

    @property
    def omitted(self) -> list[str]:
        """'label (symbol)' of every point left out."""
        return [
            f"{label} ({cell.text})"
            for label, cell, value in zip(self.labels, self.shown, self.values, strict=True)
            if value is None
        ]


def points(table: PublishedTable, chart: Chart) -> Points:
    """Extract a chart's points: a column across the non-total rows, or a row across columns."""
    if chart.kind == "bar":
        body = [r for r in table.rows if not r.total]
        labels = tuple(r.label for r in body)
        cells = tuple(r.cells[chart.index] for r in body)
    else:
        labels = table.columns[: chart.span]
        cells = table.rows[chart.index].cells[: chart.span]
    values = tuple(c.number if c.kind in PLOTTABLE else None for c in cells)
    title = chart.title
    y_label = "%" if any(c.kind == "percent" for c in cells) else chart.y_label
    return Points(title, y_label, chart.kind, labels, values, cells)


def _quote(text: str) -> str:
    """A Mermaid string: no double quotes, and no '#' or ';' (Mermaid entity syntax)."""
    clean = text.replace('"', "'").replace("#", "").replace(";", ",").replace("\n", " ")
    return f'"{clean}"'


def _num(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:.1f}"


def mermaid(p: Points) -> str:
    """A Mermaid ``xychart-beta`` block of the plotted points ('' when nothing to plot)."""
    kept = [(label, v) for label, v in zip(p.labels, p.values, strict=True) if v is not None]
    if not kept:
        return ""
    axis = ", ".join(_quote(label) for label, _ in kept)
    series = ", ".join(_num(v) for _, v in kept)
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            f"    title {_quote(p.title)}",
            f"    x-axis [{axis}]",
            f"    y-axis {_quote(p.y_label)}",
            f"    {'bar' if p.kind == 'bar' else 'line'} [{series}]",
            "```",
        ]
    )
