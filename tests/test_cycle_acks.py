"""Acknowledgements: the file format, `tce ack`, and acknowledged queries in validate and
harmonise (they stop counting; stale entries are reported)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml
from openpyxl import load_workbook
from typer.testing import CliRunner, Result

from tce_cli.cli import app
from tce_cli.cycle.acks import (
    AckFile,
    Acknowledgement,
    add_ack,
    apply_acks,
    load_acks,
    parse_acks,
    render_acks,
)
from tce_cli.errors import ConfigError
from tce_cli.findings import empty_findings

FIX = Path(__file__).parent / "fixtures" / "cycle"
KEY = "33" * 32


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """mappings/ (council + police), data/ with their 2026-27 Q2 returns, a key."""
    maps = tmp_path / "mappings"
    maps.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    for name in ("council.yaml", "police.yaml"):
        shutil.copy(FIX / name, maps / name)
    for name in ("council_2026-27Q2.csv", "police_2026-27Q2.csv"):
        shutil.copy(FIX / name, data / name)
    (tmp_path / "k.key").write_text(KEY)
    return tmp_path


def _entry(**overrides: object) -> Acknowledgement:
    data: dict[str, object] = {
        "rule": "age-18-plus",
        "record": "R6",
        "period": "2026-27 Q2",
        "reason": "Transitional case agreed with leaving care",
        "accepted_by": "J. Analyst",
        "accepted_on": date(2026, 11, 20),
    }
    data.update(overrides)
    return Acknowledgement.model_validate(data)


def _ack(project: Path, *args: str) -> Result:
    return CliRunner().invoke(
        app,
        [
            "ack",
            *args,
            "--period",
            "2026-27Q2",
            "--reason",
            "Agreed at the DQ meeting",
            "--by",
            "J. Analyst",
            "--on",
            "2026-11-20",
            "--mappings",
            str(project / "mappings"),
        ],
    )


def _validate(project: Path, *extra: str) -> Result:
    return CliRunner().invoke(
        app,
        [
            "validate",
            str(project / "data" / "council_2026-27Q2.csv"),
            "--mappings",
            str(project / "mappings"),
            "--period",
            "2026-27 Q2",
            *extra,
        ],
    )


# --- the file ----------------------------------------------------------------------------


def test_entry_defaults_and_canonical_period() -> None:
    entry = _entry(period="2026/27 Q2", record=123)
    assert entry.scope == "record" and entry.record == "123"
    assert entry.period == "2026-27 Q2"
    assert _entry(period="ANY").period == "any"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"rule": "invalid-date"}, "acknowledgements[1].rule: 'invalid-date' is an error"),
        ({"rule": "no-such-rule"}, "is not a finding code"),
        ({"rule": "stale-acknowledgement"}, "cannot be acknowledged"),
        ({"colour": "red"}, "acknowledgements[1]: unknown key 'colour' (valid keys here: rule"),
        ({"scope": "file"}, "record is only for scope record"),
        ({"period": "Q2"}, "acknowledgements[1].period"),
        ({"reason": ""}, "acknowledgements[1].reason"),
        ({"field": "shoe_size"}, "'shoe_size' is not a framework field"),
        ({"reason": "ok\x1b[2J"}, "reason contains control characters"),
    ],
)
def test_invalid_entries_name_file_and_key(data: dict[str, object], expected: str) -> None:
    entry = {
        "rule": "age-18-plus",
        "record": "R6",
        "period": "2026-27 Q2",
        "reason": "ok",
        "accepted_by": "me",
        "accepted_on": "2026-11-20",
        **data,
    }
    path = Path("mappings/acks/council-csc.yaml")
    with pytest.raises(ConfigError) as err:
        parse_acks({"agency": "council-csc", "acknowledgements": [entry]}, path, "council-csc")
    assert err.value.message.startswith(f"{path}: ")
    assert expected in err.value.message


def test_entry_without_record_or_scope_is_refused() -> None:
    with pytest.raises(ConfigError, match="give record: ID, or scope"):
        parse_acks(
            {
                "agency": "a",
                "acknowledgements": [
                    {"rule": "age-18-plus", "period": "any", "reason": "r", "accepted_by": "b"}
                ],
            },
            Path("a.yaml"),
            "a",
        )


def test_other_agency_duplicates_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not match the file name"):
        parse_acks({"agency": "gmp"}, Path("x/bolton-csc.yaml"), "bolton-csc")
    entry = _entry().as_yaml()
    with pytest.raises(ConfigError, match=r"acknowledgements\[2\] acknowledges the same"):
        parse_acks({"agency": "a", "acknowledgements": [entry, entry]}, Path("a.yaml"), "a")
    (tmp_path / "a.yaml").write_text("agency: a\nacknowledgements: [\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_acks(tmp_path, "a")
    assert load_acks(tmp_path, "nobody").acknowledgements == []


def test_written_file_is_sorted_stable_and_reloads(tmp_path: Path) -> None:
    entries = [
        _entry(record="R9"),
        _entry(rule="row-count-change", record=None, scope="file", period="2026-27 Q1"),
        _entry(record="R1"),
        _entry(rule="age-18-plus", record=None, scope="all", period="any"),
    ]
    first, second = tmp_path / "one", tmp_path / "two"
    for entry in entries:
        add_ack(first, "council-csc", entry)
    for entry in reversed(entries):
        add_ack(second, "council-csc", entry)
    text = (first / "council-csc.yaml").read_bytes()
    assert text == (second / "council-csc.yaml").read_bytes()
    loaded = load_acks(first, "council-csc")
    assert [e.period for e in loaded.acknowledgements] == [
        "any",
        "2026-27 Q1",
        "2026-27 Q2",
        "2026-27 Q2",
    ]
    assert [e.record for e in loaded.acknowledgements][2:] == ["R1", "R9"]
    assert render_acks(loaded).encode() == text
    assert yaml.safe_load(text)["agency"] == "council-csc"
    with pytest.raises(ConfigError, match="already acknowledged"):
        add_ack(first, "council-csc", _entry(record="R1", reason="again"))


# --- applying ----------------------------------------------------------------------------


def _findings() -> pl.DataFrame:
    rows = [
        ("R1", "sex", "age-18-plus", "query", 2),
        ("R2", "sex", "age-18-plus", "query", 3),
        ("R2", "sex", "invalid-code", "error", 3),
        (None, "ethnicity", "low-completeness", "query", None),
        (None, "sex", "low-completeness", "query", None),
    ]
    return pl.DataFrame(
        [
            {
                "agency": "a",
                "source_file": "f.csv",
                "source_row": row,
                "record_id": rid,
                "field": field,
                "code": code,
                "severity": sev,
                "message": "m",
                "hint": "h",
            }
            for rid, field, code, sev, row in rows
        ],
        schema=empty_findings().schema,
    )


def test_apply_by_record_file_field_and_all() -> None:
    findings = _findings()
    entries = [
        (1, _entry(record="R1")),
        (2, _entry(rule="low-completeness", record=None, scope="file", field="sex")),
        (3, _entry(record="R404")),
    ]
    out = apply_acks(findings, entries)
    assert out.matched == frozenset({1, 2})
    assert sorted(out.acknowledged["record_id"].fill_null("-").to_list()) == ["-", "R1"]
    assert out.outstanding.height == 3
    every = apply_acks(findings, [(1, _entry(record=None, scope="all"))])
    assert every.acknowledged["code"].to_list() == ["age-18-plus"] * 2


def test_errors_are_never_acknowledged_even_if_the_file_is_forged() -> None:
    forged = Acknowledgement.model_construct(
        rule="invalid-code",
        scope="all",
        record=None,
        field=None,
        period="any",
        reason="r",
        accepted_by="b",
        accepted_on=date(2026, 1, 1),
    )
    out = apply_acks(_findings(), [(1, forged)])
    assert out.acknowledged.height == 0 and out.matched == frozenset()


# --- tce ack -----------------------------------------------------------------------------


def test_ack_command_writes_the_agency_file(project: Path) -> None:
    res = _ack(project, "council-csc", "--rule", "age-18-plus", "--record", "R6")
    assert res.exit_code == 0, res.output
    assert "Acknowledged 'age-18-plus' for record R6 in 2026-27 Q2" in res.stdout
    saved = load_acks(project / "mappings" / "acks", "council-csc")
    assert saved.acknowledgements[0].accepted_on == date(2026, 11, 20)
    res = _ack(project, "council-csc", "--rule", "sex-unknown", "--scope", "file", "-f", "json")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["entries"] == 2 and payload["added"]["scope"] == "file"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["council-csc", "--rule", "invalid-date", "--record", "R1"], "errors must be fixed"),
        (["nobody", "--rule", "age-18-plus", "--record", "R1"], "No mapping in"),
        (["council-csc", "--rule", "age-18-plus"], "exactly one of --record"),
        (
            ["council-csc", "--rule", "age-18-plus", "--record", "R1", "--scope", "all"],
            "exactly one of --record",
        ),
        (["council-csc", "--rule", "age-18-plus", "--record", "R1", "--field", "x"], "--field"),
    ],
)
def test_ack_command_refuses(project: Path, args: list[str], message: str) -> None:
    res = _ack(project, *args)
    assert res.exit_code == 2
    assert message in res.stderr
    assert not (project / "mappings" / "acks" / "council-csc.yaml").exists()


def test_ack_command_with_only_an_acks_folder(tmp_path: Path) -> None:
    base = ["ack", "--rule", "age-18-plus", "--record", "R1", "--period", "any"]
    base += ["--reason", "r", "--by", "b", "--mappings", str(tmp_path / "none")]
    res = CliRunner().invoke(app, [*base, "council-csc", "--acks-dir", str(tmp_path / "acks")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "acks" / "council-csc.yaml").is_file()
    escape = CliRunner().invoke(app, [*base, "../evil", "--acks-dir", str(tmp_path / "acks")])
    assert escape.exit_code == 2 and "is not an agency id" in escape.stderr
    assert not (tmp_path / "evil.yaml").exists()
    no_mappings = CliRunner().invoke(app, [*base, "council-csc"])
    assert no_mappings.exit_code == 2 and "Mappings folder not found" in no_mappings.stderr


def test_ack_command_bad_date_and_duplicate(project: Path) -> None:
    res = CliRunner().invoke(
        app,
        ["ack", "council-csc", "--rule", "age-18-plus", "--record", "R6", "--period", "any"]
        + ["--reason", "r", "--by", "b", "--on", "20/11/2026"]
        + ["--mappings", str(project / "mappings")],
    )
    assert res.exit_code == 2 and "is not a date" in res.stderr
    assert _ack(project, "council-csc", "--rule", "age-18-plus", "--record", "R6").exit_code == 0
    again = _ack(project, "council-csc", "--rule", "age-18-plus", "--record", "R6")
    assert again.exit_code == 2 and "already acknowledged" in again.stderr


# --- validate and harmonise --------------------------------------------------------------


def test_acknowledged_query_stops_counting_in_validate(project: Path) -> None:
    before = _validate(project, "--fail-on", "query", "--format", "json")
    assert before.exit_code == 1
    assert json.loads(before.stdout)["files"][0]["findings_by_code"] == {"age-18-plus": 1}

    assert _ack(project, "council-csc", "--rule", "age-18-plus", "--record", "R6").exit_code == 0
    after = _validate(project, "--fail-on", "query", "--format", "json")
    assert after.exit_code == 0, after.output
    summary = json.loads(after.stdout)["files"][0]
    assert summary["findings_by_code"] == {}
    assert summary["findings_by_severity"]["query"] == 0
    assert summary["acknowledged_by_code"] == {"age-18-plus": 1}

    table = _validate(project, "--fail-on", "query")
    assert table.exit_code == 0
    assert "acknowledged: 1 (age-18-plus 1)" in table.stdout

    book = project / "feedback.xlsx"
    assert _validate(project, "--feedback", str(book)).exit_code == 0
    wb = load_workbook(book, read_only=True)
    assert wb.sheetnames == ["Summary", "Findings", "Acknowledged"]
    explained = [tuple(r) for r in wb["Acknowledged"].iter_rows(min_row=2, values_only=True)]
    assert [(r[0], r[4]) for r in explained] == [("R6", "age-18-plus")]
    assert list(wb["Findings"].iter_rows(min_row=2, values_only=True)) == []
    rows = wb["Summary"].iter_rows(values_only=True)
    summary = {r[0]: r[1] for r in rows if len(r) > 1 and r[0]}
    assert summary["Acknowledged (explained before; not counted)"] == 1


def test_stale_acknowledgement_is_reported(project: Path) -> None:
    assert _ack(project, "council-csc", "--rule", "age-18-plus", "--record", "R6").exit_code == 0
    assert _ack(project, "council-csc", "--rule", "age-18-plus", "--record", "R77").exit_code == 0
    assert (
        _ack(project, "council-csc", "--rule", "row-count-change", "--scope", "file").exit_code == 0
    )
    res = _validate(project, "--fail-on", "query", "--format", "json")
    assert res.exit_code == 0, res.output  # stale entries are info, below --fail-on query
    summary = json.loads(res.stdout)["files"][0]
    assert summary["findings_by_code"] == {"stale-acknowledgement": 2}
    assert summary["acknowledged_by_code"] == {"age-18-plus": 1}
    assert _validate(project, "--fail-on", "info").exit_code == 1
    table = _validate(project)
    assert "stale-acknowledgement" in table.stdout
    assert "'age-18-plus' for record R77 in 2026-27 Q2" in table.stdout
    assert "'row-count-change' for the file in 2026-27 Q2" in table.stdout


def test_acks_for_another_period_are_ignored(project: Path) -> None:
    res = CliRunner().invoke(
        app,
        ["ack", "council-csc", "--rule", "age-18-plus", "--record", "R6", "--period", "2026-27Q1"]
        + ["--reason", "r", "--by", "b", "--mappings", str(project / "mappings")],
    )
    assert res.exit_code == 0
    summary = json.loads(_validate(project, "--format", "json").stdout)["files"][0]
    assert summary["findings_by_code"] == {"age-18-plus": 1}
    assert summary["acknowledged_by_code"] == {}


def test_invalid_acks_file_stops_validate_with_exit_2(project: Path) -> None:
    acks = project / "mappings" / "acks"
    acks.mkdir()
    (acks / "council-csc.yaml").write_text(
        "agency: council-csc\nacknowledgements:\n- rule: invalid-date\n  record: R1\n"
        "  period: any\n  reason: r\n  accepted_by: b\n  accepted_on: 2026-11-20\n"
    )
    res = _validate(project)
    assert res.exit_code == 2
    assert "council-csc.yaml: acknowledgements[1].rule" in res.stderr
    assert "errors must be fixed" in res.stderr


def test_harmonise_manifest_excludes_acknowledged(project: Path) -> None:
    assert _ack(project, "council-csc", "--rule", "age-18-plus", "--record", "R6").exit_code == 0
    assert _ack(project, "council-csc", "--rule", "age-18-plus", "--record", "R99").exit_code == 0
    res = CliRunner().invoke(
        app,
        ["harmonise", str(project / "data"), "--period", "2026-27 Q2"]
        + ["--mappings", str(project / "mappings"), "--store", str(project / "store")]
        + ["--key-file", str(project / "k.key"), "--format", "json"],
    )
    assert res.exit_code == 0, res.output
    files = {f["agency"]: f for f in json.loads(res.stdout)["files"]}
    assert files["council-csc"]["acknowledged_by_code"] == {"age-18-plus": 1}
    manifest = json.loads((project / "store/period=2026-27Q2/manifest.json").read_text())
    council = manifest["agencies"]["council-csc"]
    assert council["findings_by_code"] == {"stale-acknowledgement": 1}
    assert council["findings_by_severity"] == {"info": 1}
    assert council["acknowledged_by_code"] == {"age-18-plus": 1}
    police = manifest["agencies"]["test-police"]
    assert police["findings_by_code"] == {"age-18-plus": 2}
    assert police["acknowledged_by_code"] == {}
    # rows keep the query codes the checks found: the data did not change, only its status
    part = pl.read_parquet(project / "store/period=2026-27Q2/agency=council-csc/part-0.parquet")
    assert part.height == 6


def test_ack_file_model_round_trip() -> None:
    acks = AckFile(agency="a", acknowledgements=[_entry()])
    again = parse_acks(yaml.safe_load(render_acks(acks)), Path("a.yaml"), "a")
    assert again == acks
