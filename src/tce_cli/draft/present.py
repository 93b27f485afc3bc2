"""Rich presenters for ``tce mapping init`` and ``tce mapping check --sample`` (stdout).

They print header names, counts, confidences and short code-field values only: never the
content of identifier, name, date-of-birth, postcode or notes columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Column, Table

from tce_cli import console


def _colour(confidence: float) -> str:
    return "green" if confidence >= 0.8 else ("yellow" if confidence >= 0.6 else "red")


def show_draft(report: dict[str, Any], out: Path, sample: Path) -> None:
    """The coverage report of a drafted mapping."""
    o = console.stdout
    cov = report["coverage"]
    src = report["source"]
    o.print(
        f"\n[bold]{escape(report['sample']['file'])}[/] — {report['sample']['rows']} rows, "
        f"{report['sample']['columns']} columns, header on row {src['header_row']}"
        + (f", sheet '{escape(str(src['sheet']))}'" if "sheet" in src else "")
    )
    table = Table("req", "source column(s)", "confidence", "close alternatives")
    table.columns.insert(0, _field_column())
    for f in report["fields"]:
        if f["source"] is None and f["required"] == "N":
            continue
        if f["source"] is None:
            cols, conf = "[red]not found[/]", ""
        elif f["source"] == "constant":
            cols, conf = "(constant)", f"[{_colour(f['confidence'])}]{f['confidence']:.2f}[/]"
        else:
            cols = escape(", ".join(f["columns"]))
            conf = f"[{_colour(f['confidence'])}]{f['confidence']:.2f}[/]"
        alts = ", ".join(f"{a['column']} ({a['confidence']:.2f})" for a in f["alternatives"])
        table.add_row(f["field"], f["required"], cols, conf, escape(alts))
    o.print(table)
    _values_table(report["unmapped_values"], "Values not recoded (TODO in the draft)")
    ignored = Table("column", "why", title="Columns ignored")
    for c in report["ignored"]:
        ignored.add_row(escape(c["column"]), escape(c["reason"]))
    if report["ignored"]:
        o.print(ignored)
    missing = cov["required_unmatched"]
    o.print(
        f"Required fields matched: {cov['required_matched']}/{cov['required_total']}"
        + (f" (not found: {', '.join(missing)})" if missing else "")
        + f"; identifiers: {', '.join(cov['identifiers']) or '[red]none[/]'}; "
        f"values recoded: {cov['values_recoded_share']:.0%} of {cov['values_distinct']} "
        f"distinct ({cov['rows_recoded_share']:.0%} of rows)."
    )
    o.print(f"Draft written to [bold]{escape(str(out))}[/] with {len(report['todos'])} TODO(s).")
    console.info(f"Next: review the TODOs, then run 'tce mapping check {out} --sample {sample}'.")


def _field_column() -> Column:
    return Column("field", no_wrap=True, min_width=len("primary_exploitation_type"))


def _values_table(rows: list[dict[str, Any]], title: str) -> None:
    if not rows:
        return
    table = Table(_field_column(), "value", "rows", title=title)
    for r in rows:
        table.add_row(r["field"], escape(r["value"]), str(r["rows"]))
    console.stdout.print(table)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def show_sample_coverage(cov: dict[str, Any]) -> None:
    """What a mapping does to a sample: fill shares, values not recoded, unreadable cells."""
    o = console.stdout
    o.print(
        f"\n[bold]{escape(cov['sample'])}[/] with mapping {escape(cov['mapping'])}: "
        f"{cov['rows']} rows, header on row {cov['header_row']}"
    )
    table = Table(_field_column(), "column(s)", "filled", "not recoded", "unreadable")
    for f in cov["fields"]:
        bad = f.get("not_recoded", [])
        rows = sum(b["rows"] for b in bad)
        not_recoded = f"{_plural(len(bad), 'value')}, {_plural(rows, 'row')}" if bad else ""
        unread = str(f["unreadable"]) if f.get("unreadable") else ""
        cols = escape(", ".join(f["columns"])) or "(constant)"
        table.add_row(f["field"], cols, f"{f['filled_share']:.0%}", not_recoded, unread)
    o.print(table)
    rows = [{"field": f["field"], **b} for f in cov["fields"] for b in f.get("not_recoded", [])]
    _values_table(rows, "Values the mapping does not recode")
    for name, cols in cov["missing_columns"].items():
        console.info(f"Warning: {name}: column(s) not in the sample: {', '.join(cols)}")
    if cov["unmapped_columns"]:
        console.info("Columns neither mapped nor ignored: " + ", ".join(cov["unmapped_columns"]))
