"""`tce validate` and the checks behind it, on a small hand-made file with one planted
defect per row (tests/fixtures/validate/mini_2026-27Q2.csv)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from tce_cli.cli import app
from tce_cli.mapping import load_mapping
from tce_cli.periods import parse_period
from tce_cli.pipeline import check_file

FIX = Path(__file__).parent / "fixtures" / "validate"
CSV = FIX / "mini_2026-27Q2.csv"
MAPPING = FIX / "mini.yaml"

EXPECTED = {
    (3, "required-missing", "sex"),
    (4, "invalid-code", "sex"),
    (5, "invalid-date", "episode_start_date"),
    (6, "implausible-date", "date_of_birth"),
    (7, "nhs-number-invalid", "nhs_number"),
    (8, "conditional-missing", "closure_reason"),
    (9, "end-before-start", "episode_end_date"),
    (10, "rhi-counts-order", "rhi_offered_count"),
    (12, "county-lines-without-cce", "exploitation_types"),
    (13, "duplicate-record-id", "record_id"),
    (14, "postcode-invalid", "home_postcode"),
    (15, "age-out-of-range", "date_of_birth"),
    (16, "age-18-plus", "date_of_birth"),
    (17, "outside-period", "episode_start_date"),
    (17, "event-after-extract", "episode_start_date"),
    (18, "invalid-integer", "missing_episodes_count"),
    (19, "conditional-missing", "nrm_referral_date"),
    (20, "no-identifier", "person_key"),
    (21, "not-assessed-long-open", "risk_level"),
}


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    return check_file(
        CSV,
        mapping=load_mapping(MAPPING),
        mapping_path=MAPPING,
        period=parse_period("2026-27 Q2"),
        today=date(2026, 11, 25),
    )


def test_each_planted_defect_is_found_once_and_nothing_else(result) -> None:  # type: ignore[no-untyped-def]
    found = {
        (r["source_row"], r["code"], r["field"]) for r in result.findings.iter_rows(named=True)
    }
    assert found == EXPECTED


def test_rows_with_errors_are_rejected_and_queries_kept(result) -> None:  # type: ignore[no-untyped-def]
    rejected = set(result.rejected_rows().to_list())
    query_rows = {12, 16, 21}
    error_rows = {row for row, _, _ in EXPECTED} - query_rows
    assert rejected == error_rows
    assert result.rows_read == 20


def test_messages_hold_no_personal_data(result) -> None:  # type: ignore[no-untyped-def]
    text = " ".join(result.findings["message"].to_list())
    for secret in ("9434765918", "03/05/10", "NOT A PC", "Alice", "01/01/2000"):
        assert secret not in text
    assert "has 10 digits but the check digit is wrong" in text


def test_period_is_inferred_from_extract_date() -> None:
    r = check_file(CSV, mapping=load_mapping(MAPPING), period=None, today=date(2027, 5, 1))
    assert r.period.label == "2026-27 Q2" and r.period_inferred


def test_cli_exit_codes_and_outputs(tmp_path: Path) -> None:
    runner = CliRunner()
    findings = tmp_path / "findings.csv"
    feedback = tmp_path / "feedback.xlsx"
    args = ["validate", str(CSV), "--mapping", str(MAPPING), "--period", "2026-27 Q2"]
    res = runner.invoke(app, [*args, "--findings-out", str(findings), "--feedback", str(feedback)])
    assert res.exit_code == 1, res.output
    assert "invalid-code" in res.stdout
    table = pl.read_csv(findings, infer_schema=False)
    assert table.height == len(EXPECTED)
    assert table["severity"][0] == "error"  # errors first
    wb = load_workbook(feedback)
    assert wb.sheetnames == ["Summary", "Findings"]
    ws = wb["Findings"]
    assert ws.cell(1, 1).value == "Record id" and ws.freeze_panes == "A2"
    assert ws.auto_filter.ref is not None
    assert ws.cell(2, 1).data_type == "s"
    assert ws.max_row == len(EXPECTED) + 1


def test_cli_json_equals_library_result(result) -> None:  # type: ignore[no-untyped-def]
    from tce_cli.pipeline import file_summary

    res = CliRunner().invoke(
        app, ["validate", str(CSV), "-m", str(MAPPING), "-p", "2026-27 Q2", "--format", "json"]
    )
    payload = json.loads(res.stdout)
    assert payload["files"][0] == json.loads(json.dumps(file_summary(result), default=str))


def test_fail_on_query_and_clean_exit(tmp_path: Path) -> None:
    clean = tmp_path / "mini_clean.csv"
    lines = CSV.read_text().splitlines()
    clean.write_text("\n".join(lines[:2]) + "\n")
    base = ["validate", str(clean), "-m", str(MAPPING), "-p", "2026-27 Q2"]
    assert CliRunner().invoke(app, base).exit_code == 0
    lines16 = "\n".join([lines[0], lines[15]]) + "\n"  # the 18-plus row: a query only
    clean.write_text(lines16)
    assert CliRunner().invoke(app, base).exit_code == 0
    assert CliRunner().invoke(app, [*base, "--fail-on", "query"]).exit_code == 1


def test_unknown_mapping_and_no_match_exit_2(tmp_path: Path) -> None:
    other = tmp_path / "unmatched.csv"
    other.write_text(CSV.read_text())
    res = CliRunner().invoke(app, ["validate", str(other), "--mappings", str(FIX)])
    assert res.exit_code == 2
    assert "No mapping matches 'unmatched.csv'" in res.stderr
    res = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.csv")])
    assert res.exit_code == 2 and "File not found" in res.stderr


def test_excel_error_cells_are_invalid_values_not_blanks(tmp_path: Path) -> None:
    """#N/A in a count and #VALUE! in a date are unreadable values, not missing ones."""
    from _robust import MINI_MAPPING, hostile_workbooks
    from tce_cli.pipeline import check_file

    path = hostile_workbooks(tmp_path)["formulas_and_errors"]
    result = check_file(path, mapping=load_mapping(MINI_MAPPING), period=None, today=date.today())
    found = {(r, f, c) for r, f, c in result.findings.select("source_row", "field", "code").rows()}
    assert (2, "missing_episodes_count", "invalid-integer") in found
    assert (3, "date_of_birth", "invalid-date") in found
    assert (2, "missing_episodes_count", "required-missing") not in found
    assert (3, "date_of_birth", "required-missing") not in found
