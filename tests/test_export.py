from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from tce_cli.errors import ConfigError, OutputError, StoreError
from tce_cli.export import (
    NOT_PSEUDONYMISED,
    ExportFormat,
    codes_rows,
    export_format_for,
    export_period,
)
from tce_cli.safe_io import neutralise_formula
from tce_cli.store import Partition, Store, store_schema
from test_store import FP, Q2, Q3, contract_frame, entry, rejected_frame

AT = datetime(2026, 11, 25, tzinfo=UTC)


def make_store(root: Path, *, fingerprint: str | None = FP) -> Store:
    frame = contract_frame("gmp", 4).with_columns(
        record_id=pl.Series(["=cmd|' /C calc'!A0", "R2", "+R3", "-7"]),
        exploitation_types=pl.Series([["CSE", "CCE"], ["CL"], [], None]),
        sex=pl.Series(["M", "F", None, "U"]),
    )
    store = Store(root)
    store.write_run(
        Q2,
        [Partition("gmp", frame, entry(4, 0), rejected_frame(0))],
        generated_at=AT,
        key_fingerprint=fingerprint,
    )
    return store


def stored(store: Store) -> pl.DataFrame:
    return store.scan(Q2).collect()


def test_parquet_is_as_stored(tmp_path: Path) -> None:
    store = make_store(tmp_path / "s")
    result = export_period(store, Q2, ExportFormat.PARQUET, tmp_path / "out.parquet")
    assert result.rows == 4 and result.columns == len(store_schema()) and result.pseudonymised
    assert pl.read_parquet(result.path).equals(stored(store))


def test_csv_round_trip_and_neutralised(tmp_path: Path) -> None:
    store = make_store(tmp_path / "s")
    result = export_period(store, Q2, ExportFormat.CSV, tmp_path / "out.csv")
    assert result.path == tmp_path / "out.csv"
    back = pl.read_csv(result.path, infer_schema=False)
    assert back.columns == list(store_schema())
    source = stored(store)
    assert back["record_id"].to_list() == [neutralise_formula(v) for v in source["record_id"]]
    assert "'=cmd|' /C calc'!A0" in back["record_id"].to_list()
    assert "-7" in back["record_id"].to_list()  # plain numbers stay as they are
    by_id = dict(zip(back["record_id"], back["exploitation_types"], strict=True))
    assert by_id["'=cmd|' /C calc'!A0"] == "CSE;CCE" and by_id["R2"] == "CL"
    assert back["episode_start_date"].to_list() == [
        d.isoformat() for d in source["episode_start_date"]
    ]
    assert back["person_key"].to_list() == source["person_key"].to_list()
    assert back["source_row"].cast(pl.Int64).to_list() == source["source_row"].to_list()


def test_xlsx_round_trip(tmp_path: Path) -> None:
    store = make_store(tmp_path / "s")
    result = export_period(store, Q2, ExportFormat.XLSX, tmp_path / "out.xlsx")
    book = openpyxl.load_workbook(result.path)
    assert book.sheetnames == ["Harmonised", "Codes"]
    sheet = book["Harmonised"]
    header = [c.value for c in sheet[1]]
    assert header == list(store_schema())
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    assert sheet["A1"].font.bold
    rows = [
        dict(zip(header, [c.value for c in row], strict=True)) for row in sheet.iter_rows(min_row=2)
    ]
    source = stored(store)
    assert [r["record_id"] for r in rows] == source["record_id"].to_list()
    formula_cell = next(c for c in sheet["A"] if c.value == "=cmd|' /C calc'!A0")
    assert formula_cell.data_type == "s" and formula_cell.quotePrefix
    types = {r["record_id"]: r["exploitation_types"] for r in rows}
    assert types["=cmd|' /C calc'!A0"] == "CSE;CCE" and types["-7"] is None
    assert all(r["episode_start_date"].date() == date(2026, 7, 1) for r in rows)
    assert [r["source_row"] for r in rows] == source["source_row"].to_list()
    assert sheet.column_dimensions["A"].width >= len("record_id")
    codes = [tuple(c.value for c in row) for row in book["Codes"].iter_rows(min_row=2)]
    assert ("sex", "F", "Female") in codes
    assert ("local_authority_code", "E08000001", "Bolton") in codes
    assert len(codes) == len(codes_rows())


def test_not_pseudonymised_is_marked(tmp_path: Path) -> None:
    store = make_store(tmp_path / "s", fingerprint=None)
    csv = export_period(store, Q2, ExportFormat.CSV, tmp_path / "out.csv")
    assert csv.path.name == f"out-{NOT_PSEUDONYMISED}.csv" and not csv.pseudonymised
    xlsx = export_period(store, Q2, ExportFormat.XLSX, tmp_path / "out.xlsx")
    sheet = openpyxl.load_workbook(xlsx.path)["Harmonised"]
    assert "NOT PSEUDONYMISED" in str(sheet["A1"].value)
    assert sheet["A2"].value == "record_id" and sheet.freeze_panes == "A3"


def test_folder_out_gets_default_name(tmp_path: Path) -> None:
    store = make_store(tmp_path / "s")
    result = export_period(store, Q2, ExportFormat.PARQUET, tmp_path)
    assert result.path == tmp_path / "tce-harmonised-2026-27Q2.parquet"


def test_unknown_period_or_no_store(tmp_path: Path) -> None:
    store = make_store(tmp_path / "s")
    with pytest.raises(StoreError) as exc:
        export_period(store, Q3, ExportFormat.CSV, tmp_path / "x.csv")
    assert "2026-27 Q2" in exc.value.hint and exc.value.exit_code == 2
    with pytest.raises(StoreError, match="No tce store"):
        export_period(Store(tmp_path / "none"), Q2, ExportFormat.CSV, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_format_from_extension() -> None:
    assert export_format_for(Path("a.XLSX"), None) is ExportFormat.XLSX
    assert export_format_for(Path("a.csv"), ExportFormat.PARQUET) is ExportFormat.PARQUET
    assert export_format_for(None, None) is ExportFormat.CSV
    with pytest.raises(ConfigError):
        export_format_for(Path("a.txt"), None)


def test_too_many_rows_for_excel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tce_cli import export

    store = make_store(tmp_path / "s")
    monkeypatch.setattr(export, "EXCEL_MAX_ROWS", 5)
    with pytest.raises(OutputError, match="at most 5"):
        export_period(store, Q2, ExportFormat.XLSX, tmp_path / "big.xlsx")
    assert not (tmp_path / "big.xlsx").exists()
