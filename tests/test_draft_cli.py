"""`tce mapping init` and `tce mapping check --sample` through the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook
from typer.testing import CliRunner

from tce_cli.cli import app
from tce_cli.draft import DraftOptions, draft_mapping, render
from tce_cli.mapping import load_mapping

FIX = Path(__file__).parent / "fixtures" / "draft"
SAMPLE = FIX / "riverside_tracker_2026-27Q2.csv"
"""A hand-made VCS tracker: three title rows, Annex A sexes, NHS ethnic letters, Y/N flag
columns, RAG risk, month-first referral dates, no extract date, record id or LA column."""
SECRETS = ("Ava Test", "999 007 9196", "9990079196", "25/03/2012", "M14 5RX", "Seen at home")
"""Cell values that must never reach the terminal: a name, an NHS number, a date of birth,
a postcode and a note from the sample."""


def _init(tmp_path: Path, *extra: str, sample: Path = SAMPLE) -> tuple[int, str, str, Path]:
    out = tmp_path / "mappings" / "riverside.yaml"
    res = CliRunner().invoke(app, ["mapping", "init", str(sample), "--out", str(out), *extra])
    return res.exit_code, res.stdout, res.stderr, out


def test_init_writes_a_draft_that_check_accepts(tmp_path: Path) -> None:
    code, stdout, _, out = _init(tmp_path, "--agency-type", "VCS", "--org-code", "GMVCS-0099")
    assert code == 0, stdout
    mapping = load_mapping(out)
    assert mapping.source.header_row == 4  # below the three title rows, found by the reader
    assert mapping.fields["sex"].values["a) Male"] == "M"
    assert mapping.fields["exploitation_types"].flags == {
        "CSE Concern (Y/N)": "CSE",
        "CCE Concern (Y/N)": "CCE",
        "County Lines (Y/N)": "CL",
    }
    assert mapping.fields["episode_start_date"].formats == ["%m/%d/%Y"]
    assert mapping.fields["date_of_birth"].formats == ["%d/%m/%Y"]
    assert mapping.fields["risk_level"].values == {"Amber": "MEDIUM", "Green": "LOW", "Red": "HIGH"}
    assert mapping.options.allow_test_nhs_numbers
    assert {"Child's Name", "Notes", "Key Worker", "Favourite Colour"} <= set(mapping.ignore)
    text = out.read_text("utf-8")
    assert "# TODO: extract_date" in text and "# extract_date: {constant:" in text
    assert "# TODO: record_id" in text and "# TODO: referral_source" in text
    assert "Favourite Colour  # TODO: not matched to a framework field" in text
    assert "Draft written to" in stdout
    check = CliRunner().invoke(app, ["mapping", "check", str(out)])
    assert check.exit_code == 0 and "OK" in check.stdout


def test_terminal_report_and_draft_hold_no_personal_data(tmp_path: Path) -> None:
    code, stdout, stderr, out = _init(tmp_path)
    assert code == 0
    for secret in SECRETS:
        assert secret not in stdout and secret not in stderr, secret
        assert secret not in out.read_text("utf-8"), secret
    res = CliRunner().invoke(app, ["mapping", "check", str(out), "--sample", str(SAMPLE)])
    for secret in SECRETS:
        assert secret not in res.stdout and secret not in res.stderr, secret


def test_json_equals_the_library_result(tmp_path: Path) -> None:
    code, stdout, _, out = _init(tmp_path, "--agency-id", "riverside", "--format", "json")
    assert code == 0
    library = draft_mapping(SAMPLE, options=DraftOptions(agency_id="riverside")).report()
    expected = json.loads(json.dumps({**library, "mapping": str(out)}, default=str))
    assert json.loads(stdout) == expected
    assert out.read_text("utf-8") == render(
        draft_mapping(SAMPLE, options=DraftOptions(agency_id="riverside"))
    )


def test_missing_sample_exits_2(tmp_path: Path) -> None:
    code, _, stderr, out = _init(tmp_path, sample=tmp_path / "nope.csv")
    assert code == 2
    assert "not found" in stderr and not out.exists()


def test_existing_out_is_kept_unless_force(tmp_path: Path) -> None:
    out = tmp_path / "mappings" / "riverside.yaml"
    out.parent.mkdir()
    out.write_text("keep me\n")
    code, _, stderr, _ = _init(tmp_path)
    assert code == 2 and "already exists" in stderr and "--force" in stderr
    assert out.read_text() == "keep me\n"
    code, _, _, _ = _init(tmp_path, "--force")
    assert code == 0 and load_mapping(out).agency.id == "riverside-tracker"


def test_bad_agency_type_exits_2(tmp_path: Path) -> None:
    code, _, stderr, out = _init(tmp_path, "--agency-type", "COUNCIL")
    assert code == 2 and "'COUNCIL' is not an agency type" in stderr
    assert not out.exists()


def test_default_out_is_mappings_agency_id(tmp_path: Path) -> None:
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        res = CliRunner().invoke(app, ["mapping", "init", str(SAMPLE), "--agency-id", "rys"])
    finally:
        os.chdir(cwd)
    assert res.exit_code == 0, res.output
    assert load_mapping(tmp_path / "mappings" / "rys.yaml").agency.id == "rys"


def _title_block_workbook(path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Cohort"
    ws.append(["Oldham Council - complex safeguarding cohort"])
    ws.append(["Report run on 01/10/2026"])
    ws.append([])
    ws.append(["Case Ref", "Child ID", "Forename", "Date of Birth", "Gender", "Ethnicity",
               "Exploitation Type", "Risk Level", "Date Opened", "Extract Date"])  # fmt: skip
    rows = [
        ("C-1", "1001", "Ann", "2011-03-25", "Female", "WBRI", "CSE", "High", "2026-07-02"),
        ("C-2", "1002", "Bob", "2010-11-01", "Male", "APKN", "CCE; County Lines", "Medium",
         "2026-07-15"),
        ("C-3", "1003", "Cat", "2012-02-14", "Female", "CNHE", "CSE; CCE", "Low", "2026-08-01"),
        ("C-4", "1004", "Dev", "2009-06-30", "Male", "BAFR", "Gangs", "High", "2026-08-20"),
    ]  # fmt: skip
    for row in rows:
        ws.append([*row, "2026-10-05"])
    wb.save(path)


def test_title_block_workbook_header_found_and_recorded(tmp_path: Path) -> None:
    book = tmp_path / "oldham_cohort_2026-27Q2.xlsx"
    _title_block_workbook(book)
    res = CliRunner().invoke(
        app,
        ["mapping", "init", str(book), "--out", str(tmp_path / "o.yaml"),
         "--agency-type", "LA_CSC", "--org-code", "E08000004"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    mapping = load_mapping(tmp_path / "o.yaml")
    assert mapping.source.header_row == 4 and mapping.source.sheet == "Cohort"
    assert mapping.source.format == "xlsx"
    assert mapping.fields["la_child_id"].column == "Child ID"
    assert mapping.fields["record_id"].column == "Case Ref"
    assert mapping.fields["ethnicity"].column == "Ethnicity"  # CNHE is a built-in alias
    types = mapping.fields["exploitation_types"]
    assert types.column == "Exploitation Type" and types.split == ";"
    primary = mapping.fields["primary_exploitation_type"]
    assert (primary.column, primary.split, primary.take) == ("Exploitation Type", ";", "first")
    assert mapping.fields["local_authority_code"].constant == "E08000004"
    assert "Forename" in mapping.ignore
    assert "header_row: 4  # found by itself below 3 title row(s)" in (
        tmp_path / "o.yaml"
    ).read_text("utf-8")


def test_same_input_gives_the_same_bytes_in_a_fresh_process(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from tce_cli.draft import draft_mapping, render;"
        "sys.stdout.write(render(draft_mapping(Path(sys.argv[1]))))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    fresh = subprocess.run(
        [sys.executable, "-c", code, str(SAMPLE)], capture_output=True, text=True, env=env
    )
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout == render(draft_mapping(SAMPLE))


def test_check_with_sample_reports_fill_and_values_not_recoded(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    text = render(draft_mapping(SAMPLE))
    mapping.write_text(text.replace('      "N": BAFR', ""), encoding="utf-8")
    res = CliRunner().invoke(
        app, ["mapping", "check", str(mapping), "--sample", str(SAMPLE), "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)["mappings"][0]
    assert report["valid"]
    fields = {f["field"]: f for f in report["sample"]["fields"]}
    assert fields["sex"]["filled_share"] == 1.0 and fields["sex"]["not_recoded"] == []
    assert fields["ethnicity"]["not_recoded"] == [{"value": "N", "rows": 1}]
    assert fields["date_of_birth"]["unreadable"] == 0
    assert report["sample"]["header_row"] == 4
    table = CliRunner().invoke(app, ["mapping", "check", str(mapping), "--sample", str(SAMPLE)])
    assert table.exit_code == 0
    assert "Values the mapping does not recode" in table.stdout


def test_check_with_sample_splits_code_lists(tmp_path: Path) -> None:
    book = tmp_path / "oldham_cohort_2026-27Q2.xlsx"
    _title_block_workbook(book)
    draft = draft_mapping(book, options=DraftOptions(agency_type="LA_CSC"))
    data = yaml.safe_load(render(draft))
    data["fields"]["exploitation_types"]["values"] = {}
    data["fields"]["ethnicity"] = "Ethnicity"
    mapping = tmp_path / "m.yaml"
    mapping.write_text(yaml.safe_dump(data), encoding="utf-8")
    res = CliRunner().invoke(
        app, ["mapping", "check", str(mapping), "--sample", str(book), "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    fields = {f["field"]: f for f in json.loads(res.stdout)["mappings"][0]["sample"]["fields"]}
    assert fields["exploitation_types"]["not_recoded"] == [
        {"value": "County Lines", "rows": 1},
        {"value": "Gangs", "rows": 1},
    ]
    assert fields["ethnicity"]["not_recoded"] == []  # CNHE is a built-in alias


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_check_with_sample_and_an_invalid_mapping_exits_2(tmp_path: Path, fmt: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("agency: {id: x}\n")
    res = CliRunner().invoke(
        app, ["mapping", "check", str(bad), "--sample", str(SAMPLE), "--format", fmt]
    )
    assert res.exit_code == 2


def test_check_with_a_missing_sample_exits_2(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(render(draft_mapping(SAMPLE)), encoding="utf-8")
    res = CliRunner().invoke(
        app, ["mapping", "check", str(mapping), "--sample", str(tmp_path / "nope.csv")]
    )
    assert res.exit_code == 2 and "not found" in res.stderr


def test_bad_agency_id_exits_2_before_reading(tmp_path: Path) -> None:
    code, _, stderr, out = _init(tmp_path, "--agency-id", "Bad Id")
    assert code == 2 and "is not a valid agency id" in stderr
    assert not out.exists()


@pytest.mark.parametrize("sheet", ["Cohort", "1"])
def test_sheet_by_name_or_number(tmp_path: Path, sheet: str) -> None:
    book = tmp_path / "oldham_cohort_2026-27Q2.xlsx"
    _title_block_workbook(book)
    out = tmp_path / "o.yaml"
    res = CliRunner().invoke(app, ["mapping", "init", str(book), "--sheet", sheet, "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert load_mapping(out).source.sheet == "Cohort"
