"""`tce inspect`: what the reader detected, as a table or as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
from typer.testing import CliRunner

from tce_cli.cli import app
from tce_cli.read import profile_table, read_table


def test_table_view_of_an_agency_export(runner: CliRunner, fixtures: Path) -> None:
    result = runner.invoke(app, ["inspect", str(fixtures / "read" / "bolton_return.csv")])
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "windows-1252" in out and "CRLF" in out and "(comma)" in out
    assert "Header row │ 4 (rows 1-3 above it skipped)" in out
    assert "Data rows │ 4 (rows 5-8)" in out
    assert "Blank rows │ 1: 7" in out
    assert "Male (1)" in out and "Female (1)" in out


def test_json_equals_the_library_profile_plus_rows(runner: CliRunner, fixtures: Path) -> None:
    path = fixtures / "read" / "ragged.csv"
    result = runner.invoke(app, ["inspect", str(path), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    table = read_table(path)
    rows = payload.pop("rows")
    assert payload == json.loads(json.dumps(profile_table(table)))
    assert rows == table.frame.to_dicts()
    assert payload["ragged_rows"] == [
        {"row": 3, "cells": 4},
        {"row": 4, "cells": 6},
        {"row": 7, "cells": 6},
    ]
    assert payload["duplicate_headers"] == ["Name"] and payload["blank_headers"] == [3]
    notes = next(c for c in payload["columns"] if c["name"] == "Notes")
    assert (notes["filled"], notes["fill_pct"], notes["distinct"]) == (4, 66.7, 4)
    assert notes["values"][0] == {"value": "fine", "count": 1}


def test_high_cardinality_columns_do_not_list_values(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("id,sex\n" + "".join(f"C{i},{'MF'[i % 2]}\n" for i in range(20)))
    result = runner.invoke(app, ["inspect", str(path), "-f", "json"])
    columns = {c["name"]: c for c in json.loads(result.stdout)["columns"]}
    assert columns["id"]["values"] is None and columns["id"]["distinct"] == 20
    assert columns["sex"]["values"] == [{"value": "F", "count": 10}, {"value": "M", "count": 10}]
    table = runner.invoke(app, ["inspect", str(path)])
    assert "C19" not in table.stdout and "F (10), M (10)" in table.stdout


def test_workbook_lists_its_sheets_and_reads_the_chosen_one(
    runner: CliRunner, tmp_path: Path
) -> None:
    wb = openpyxl.Workbook()
    first = wb.active
    assert first is not None
    first.title = "Notes"
    first["A1"] = "Read me"
    data = wb.create_sheet("Data")
    data.append(["Title row"])
    data.append(["id", "risk"])
    data.append(["1", "High"])
    path = tmp_path / "return.xlsx"
    wb.save(path)

    result = runner.invoke(app, ["inspect", str(path), "--sheet", "2", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert (payload["sheet"], payload["sheets"], payload["header_row"]) == (
        "Data",
        ["Notes", "Data"],
        2,
    )
    assert payload["rows"] == [{"_row": 3, "id": "1", "risk": "High"}]
    table = runner.invoke(app, ["inspect", str(path), "--sheet", "Data"])
    assert "Data (sheets: Notes, Data)" in " ".join(table.stdout.split())


def test_errors_print_error_and_hint_and_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["inspect", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    assert "Error:" in missing.stderr and "not found" in missing.stderr
    assert "Hint:" in missing.stderr and missing.stdout == ""

    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"id,name\n1,caf\xe9\n")
    wrong = runner.invoke(app, ["inspect", str(latin), "--encoding", "utf-8"])
    assert wrong.exit_code == 2 and "--encoding windows-1252" in wrong.stderr

    legacy = tmp_path / "old.xls"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500))
    assert runner.invoke(app, ["inspect", str(legacy)]).exit_code == 2

    bad_row = runner.invoke(app, ["inspect", str(latin), "--header-row", "0"])
    assert bad_row.exit_code == 2


def test_header_row_and_delimiter_options(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_text("Report run on 01/10/2026\nid;name\n1;Ann\n")
    result = runner.invoke(
        app, ["inspect", str(path), "--header-row", "2", "-d", ";", "-f", "json"]
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["delimiter"] == ";"
    assert payload["rows"] == [{"_row": 3, "id": "1", "name": "Ann"}]
