"""`tce status` after a sequence of runs on the examples (submitted, resubmitted twice, late,
missing), and cross-agency consistency (DQ20, DQ21) as counts per agency pair."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from tce_cli.cli import app
from tce_cli.cycle.consistency import CONFLICT_SCHEMA, conflicts_in, cross_agency_conflicts
from tce_cli.cycle.status import period_status
from tce_cli.periods import parse_period
from tce_cli.store import Store

ROOT = Path(__file__).resolve().parents[1]
Q4 = "2025-26Q4"
DATA = ROOT / "examples" / "data" / Q4
FIX = Path(__file__).parent / "fixtures" / "cycle"
KEY = "55" * 32


def _harmonise(work: Path, files: list[Path], stamp: str, *, mappings: Path) -> None:
    res = CliRunner().invoke(
        app,
        ["harmonise", *[str(f) for f in files], "--period", Q4, "--store", str(work / "store")]
        + ["--mappings", str(mappings), "--key-file", str(work / "k.key")]
        + ["--generated-at", stamp, "--quiet"],
    )
    assert res.exit_code == 0, res.output


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bolton once; GMP three times; Brightwater (extracted six weeks late) once; Manchester
    once with its 18+ queries acknowledged; Wigan and MFT never."""
    work = tmp_path_factory.mktemp("status")
    (work / "k.key").write_text(KEY)
    mappings = work / "mappings"
    shutil.copytree(ROOT / "mappings", mappings)
    acks = mappings / "acks"
    acks.mkdir()
    (acks / "manchester-csc.yaml").write_text(
        "agency: manchester-csc\nacknowledgements:\n- rule: age-18-plus\n  scope: all\n"
        "  period: any\n  reason: Transitional cases\n  accepted_by: J. Analyst\n"
        "  accepted_on: 2026-05-01\n"
    )
    bolton = DATA / "bolton_complex_safeguarding_2025-26Q4.csv"
    gmp = DATA / "GMP_CE_Nominals_2025-26Q4.csv"
    _harmonise(work, [bolton, gmp], "2026-04-20T09:00:00+00:00", mappings=mappings)
    _harmonise(work, [gmp], "2026-04-22T09:00:00+00:00", mappings=mappings)
    _harmonise(work, [DATA / "Brightwater_Tracker_2025-26Q4.xlsx"], "2026-05-15T09:00:00+00:00",
               mappings=mappings)  # fmt: skip
    _harmonise(work, [gmp], "2026-04-24T09:00:00+00:00", mappings=mappings)
    _harmonise(work, [DATA / "MCC_Mosaic_CE_Extract_2025-26Q4.csv"], "2026-04-21T09:00:00+00:00",
               mappings=mappings)  # fmt: skip
    return work


def _status(work: Path, *extra: str) -> Any:
    return CliRunner().invoke(
        app,
        ["status", "--period", "2025-26 Q4", "--store", str(work / "store")]
        + ["--mappings", str(work / "mappings"), *extra],
    )


def test_status_json_after_a_sequence_of_runs(cycle: Path) -> None:
    res = _status(cycle, "--format", "json")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    by_id = {a["agency_id"]: a for a in payload["agencies"]}
    assert sorted(by_id) == [
        "bolton-csc",
        "gmp",
        "manchester-csc",
        "mft-health",
        "vcs-tracker",
        "wigan-csc",
    ]
    state = {a: (s["state"], s["submissions"]) for a, s in by_id.items()}
    assert state == {
        "bolton-csc": ("on time", 1),
        "gmp": ("on time", 3),
        "manchester-csc": ("on time", 1),
        "mft-health": ("missing", 0),
        "vcs-tracker": ("late", 1),
        "wigan-csc": ("missing", 0),
    }
    assert payload["counts"] == {"on time": 3, "late": 1, "missing": 2, "awaiting": 0}
    # 20 working days after Tue 31 March 2026, not counting Good Friday and Easter Monday
    assert payload["deadline"] == "2026-04-30"
    gmp = by_id["gmp"]
    assert gmp["latest_submission"] == "2026-04-24T09:00:00Z"
    assert gmp["rows_read"] == gmp["rows_accepted"] + gmp["rows_rejected"]
    assert gmp["errors"] > 0 and gmp["queries"] > 0 and gmp["acknowledged"] == 0
    manchester = by_id["manchester-csc"]
    assert manchester["acknowledged"] == manchester["acknowledged_by_code"]["age-18-plus"] > 0
    assert "age-18-plus" not in manchester["findings_by_code"]
    assert by_id["vcs-tracker"]["extract_date"] > by_id["vcs-tracker"]["deadline"]
    assert by_id["wigan-csc"]["rows_read"] is None


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal wide enough for the status table (the runner's default is 80)."""
    from tce_cli import console

    monkeypatch.setattr(console.stdout, "width", 160)


def test_status_json_equals_the_library_result(cycle: Path) -> None:
    res = _status(cycle, "-f", "json")
    library = period_status(
        cycle / "store",
        parse_period(Q4),
        mappings_dir=cycle / "mappings",
        today=date.today(),
    )
    assert json.loads(res.stdout) == json.loads(json.dumps(library.to_dict(), default=str))


@pytest.mark.usefixtures("wide")
def test_status_table(cycle: Path) -> None:
    res = _status(cycle)
    assert res.exit_code == 0, res.output
    lines = {line.split()[0]: " ".join(line.split()) for line in res.stdout.splitlines() if line}
    assert lines["gmp"].startswith("gmp on time 3 24 Apr 09:00 2026-04-07")
    assert lines["vcs-tracker"].startswith("vcs-tracker late 1 15 May 09:00")
    assert lines["wigan-csc"] == "wigan-csc missing 0"
    assert lines["manchester-csc"].endswith(str(_acknowledged(cycle)))
    assert "by 30/04/2026" in res.stdout  # Easter 2026 is not counted


def _acknowledged(cycle: Path) -> int:
    entry = Store(cycle / "store").manifest(parse_period(Q4))["agencies"]["manchester-csc"]
    return int(sum(entry["acknowledged_by_code"].values()))


def test_status_of_a_period_nobody_has_sent(cycle: Path) -> None:
    status = period_status(
        cycle / "store",
        parse_period("2026-27 Q3"),
        mappings_dir=cycle / "mappings",
        today=date(2026, 10, 15),
    )
    assert {a.state for a in status.agencies} == {"awaiting"}
    assert status.consistency.height == 0
    later = period_status(
        cycle / "store",
        parse_period("2026-27 Q3"),
        mappings_dir=None,
        today=date(2027, 3, 1),
    )
    assert later.agencies == ()  # no mappings given and nothing in the store
    assert any("no returns" in n for n in later.notes)


def test_status_bad_period_exits_2(cycle: Path) -> None:
    res = CliRunner().invoke(app, ["status", "--period", "Q4", "--store", str(cycle / "store")])
    assert res.exit_code == 2
    assert "Error:" in res.stderr


# --- cross-agency consistency ------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A council and a police return sharing six children, three of them in conflict."""
    work = tmp_path_factory.mktemp("pair")
    (work / "k.key").write_text(KEY)
    data = work / "data"
    data.mkdir()
    for name in ("council_2026-27Q2.csv", "police_2026-27Q2.csv"):
        shutil.copy(FIX / name, data / name)
    res = CliRunner().invoke(
        app,
        ["harmonise", str(data), "--period", "2026-27 Q2", "--store", str(work / "store")]
        + ["--mappings", str(FIX), "--key-file", str(work / "k.key"), "--quiet"],
    )
    assert res.exit_code == 0, res.output
    return work


def test_conflicts_are_counted_per_pair(pair: Path) -> None:
    found = cross_agency_conflicts(Store(pair / "store"), parse_period("2026-27 Q2"))
    assert found.schema == pl.Schema(CONFLICT_SCHEMA)
    assert "person_key" not in found.columns
    rows = {(r["code"], r["agency_a"], r["agency_b"]): r for r in found.iter_rows(named=True)}
    assert rows.keys() == {
        ("cross-agency-age", "council-csc", "test-police"),
        ("cross-agency-sex", "council-csc", "test-police"),
        ("cross-agency-cla", "test-police", "council-csc"),
    }
    for row in rows.values():
        assert row["children_in_common"] == 6 and row["conflicts"] == 1
    assert rows[("cross-agency-sex", "council-csc", "test-police")]["dq"] == "DQ21"
    assert rows[("cross-agency-cla", "test-police", "council-csc")]["severity"] == "info"


def test_age_tolerance_and_unknown_sex() -> None:
    from tce_cli.config import Thresholds

    frame = pl.DataFrame(
        {
            "person_key": ["k1", "k1", "k2", "k2", "k3", "k3"],
            "agency_id": ["a", "b", "a", "b", "a", "b"],
            "submitting_agency_type": ["LA_CSC", "POLICE"] * 3,
            "sex": ["M", "U", "F", "F", "M", None],
            "age_at_period_end": [14, 15, 12, 14, 16, 16],
            "csc_status": ["CLA", "CLA", None, "CLA", "NONE", "UNKNOWN"],
        }
    )
    found = conflicts_in(frame)
    counts = {r["code"]: r["conflicts"] for r in found.iter_rows(named=True)}
    # U and blank are not a conflict; 14 vs 15 is within a year; the council does not know k2
    assert counts == {"cross-agency-age": 1, "cross-agency-cla": 0, "cross-agency-sex": 0}
    strict = conflicts_in(frame, thresholds=Thresholds(age_difference_years=0))
    assert strict.filter(pl.col("code") == "cross-agency-age")["conflicts"].item() == 2


@pytest.mark.usefixtures("wide")
def test_status_shows_conflicts_without_naming_children(pair: Path) -> None:
    res = CliRunner().invoke(
        app,
        ["status", "--period", "2026-27 Q2", "--store", str(pair / "store")]
        + ["--mappings", str(FIX)],
    )
    assert res.exit_code == 0, res.output
    assert "cross-agency-sex" in res.stdout and "council-csc / test-police" in res.stdout
    as_json = CliRunner().invoke(
        app,
        ["status", "-p", "2026-27 Q2", "--store", str(pair / "store"), "--mappings", str(FIX)]
        + ["--format", "json"],
    )
    payload = json.loads(as_json.stdout)
    assert len(payload["consistency"]) == 3
    text = as_json.stdout + res.stdout
    part = pl.read_parquet(pair / "store/period=2026-27Q2/agency=council-csc/part-0.parquet")
    for key in part["person_key"]:
        assert key not in text
    for record in ("R1", "R2", "R3", "P1", "9990001006"):
        assert record not in text


def test_damaged_partition_is_a_note_not_a_crash(tmp_path: Path, pair: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(pair / "store", store)
    (store / "period=2026-27Q2/agency=test-police/part-0.parquet").write_bytes(b"not parquet")
    res = CliRunner().invoke(
        app,
        ["status", "-p", "2026-27 Q2", "--store", str(store), "--mappings", str(FIX), "-f", "json"],
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["consistency"] == []
    assert any("cannot be read" in n for n in payload["notes"])
    # validate against it: the comparison is skipped with a note, the checks still run
    res = CliRunner().invoke(
        app,
        ["validate", str(FIX / "police_2026-27Q2.csv"), "--mappings", str(FIX)]
        + ["--store", str(store), "--period", "2026-27 Q3", "-f", "json"],
    )
    assert res.exit_code == 0, res.output
    notes = json.loads(res.stdout)["files"][0]["notes"]
    assert notes == ["Not compared with 2026-27 Q2: its stored return cannot be read."]
