"""Period-over-period queries: a planted 60% drop between two example quarters, the pack's
period_changes frame, and each measure on small synthetic snapshots."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from tce_cli.cli import app
from tce_cli.config import Thresholds
from tce_cli.cycle.compare import (
    CHANGE_SCHEMA,
    Snapshot,
    change_findings,
    compare,
    period_changes,
)
from tce_cli.periods import parse_period
from tce_cli.store import Store

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "data"
MAPPINGS = ROOT / "mappings"
KEY = "44" * 32
Q1, Q2 = parse_period("2026-27 Q1"), parse_period("2026-27 Q2")
BOLTON_Q2 = "bolton_complex_safeguarding_2026-27Q2.csv"
PERIOD_CODES = {
    "row-count-change",
    "measure-change",
    "children-disappeared",
    "completeness-drop",
    "distribution-shift",
}


def _keep_two_in_five(source: Path, target: Path) -> int:
    """Write ``source`` with 40% of its data rows (2 in every 5) to ``target``."""
    rows = list(csv.reader(io.StringIO(source.read_text(encoding="utf-8"), newline="")))
    kept = [rows[0]] + [r for i, r in enumerate(rows[1:]) if i % 5 < 2]
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(kept)
    target.write_text(out.getvalue(), encoding="utf-8", newline="")
    return len(kept) - 1


def _harmonise(folder: Path, period: str, store: Path, key: Path) -> Any:
    res = CliRunner().invoke(
        app,
        ["harmonise", str(folder), "--period", period, "--store", str(store)]
        + ["--mappings", str(MAPPINGS), "--key-file", str(key), "--format", "json"]
        + ["--generated-at", "2026-11-25T09:00:00+00:00"],
    )
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def dropped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Q1 harmonised in full, then Q2 with only 40% of Bolton's rows."""
    root = tmp_path_factory.mktemp("drop")
    key = root / "k.key"
    key.write_text(KEY)
    q2 = root / "q2"
    shutil.copytree(EXAMPLES / "2026-27Q2", q2)
    kept = _keep_two_in_five(EXAMPLES / "2026-27Q2" / BOLTON_Q2, q2 / BOLTON_Q2)
    store = root / "store"
    _harmonise(EXAMPLES / "2026-27Q1", "2026-27Q1", store, key)
    summary = _harmonise(q2, "2026-27Q2", store, key)
    return {"root": root, "store": store, "key": key, "q2": q2, "kept": kept, "summary": summary}


def test_planted_drop_is_a_row_count_change_query(dropped: dict[str, Any]) -> None:
    files = {f["agency"]: f for f in dropped["summary"]["files"]}
    bolton = files["bolton-csc"]["findings_by_code"]
    assert bolton["row-count-change"] == 1
    assert bolton["measure-change"] == 2  # children open at the end, new episodes
    assert bolton["children-disappeared"] == 1
    for agency, f in files.items():
        if agency != "bolton-csc":  # the untouched returns raise no period queries
            assert not PERIOD_CODES & set(f["findings_by_code"]), agency
    manifest = Store(dropped["store"]).manifest(Q2)["agencies"]["bolton-csc"]
    assert manifest["rows_read"] == dropped["kept"]
    assert manifest["findings_by_code"]["row-count-change"] == 1
    assert manifest["findings_by_severity"]["query"] >= 4


def test_harmonise_table_shows_the_message(dropped: dict[str, Any]) -> None:
    res = CliRunner().invoke(
        app,
        ["harmonise", str(dropped["q2"] / BOLTON_Q2), "--period", "2026-27Q2"]
        + ["--store", str(dropped["store"]), "--mappings", str(MAPPINGS)]
        + ["--key-file", str(dropped["key"]), "--generated-at", "2026-11-25T10:00:00+00:00"],
    )
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert "bolton-csc: row-count-change: This return has 94 rows, 60% fewer than the 234" in text
    assert "Compared with bolton-csc's 2026-27 Q1 return" in res.stderr


def test_validate_with_store_flags_the_drop(dropped: dict[str, Any]) -> None:
    args = ["validate", str(dropped["q2"] / BOLTON_Q2), "--store", str(dropped["store"])]
    args += ["--mappings", str(MAPPINGS), "--format", "json"]
    keyed = CliRunner().invoke(app, args, env={"TCE_KEY": KEY})
    summary = json.loads(keyed.stdout)["files"][0]
    assert summary["findings_by_code"]["row-count-change"] == 1
    assert summary["findings_by_code"]["children-disappeared"] == 1
    # without the store's key, children cannot be followed: that one check is skipped
    unkeyed = CliRunner().invoke(app, args, env={"TCE_KEY": ""})
    summary = json.loads(unkeyed.stdout)["files"][0]
    assert summary["findings_by_code"]["row-count-change"] == 1
    assert "children-disappeared" not in summary["findings_by_code"]
    assert any("not checked" in n for n in summary["notes"])
    # no store: nothing is compared, and validate still runs
    alone = CliRunner().invoke(app, [*args[:2], "--mappings", str(MAPPINGS), "-f", "json"])
    assert "row-count-change" not in json.loads(alone.stdout)["files"][0]["findings_by_code"]


def test_thresholds_come_from_tce_toml(
    dropped: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tce.toml").write_text("[thresholds]\nperiod_change_pct = 70\n")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(
        app,
        ["validate", str(dropped["q2"] / BOLTON_Q2), "--store", str(dropped["store"])]
        + ["--mappings", str(MAPPINGS), "--format", "json"],
    )
    codes = json.loads(res.stdout)["files"][0]["findings_by_code"]
    assert "row-count-change" not in codes  # -60% is within +-70%
    assert codes["measure-change"] == 1  # new episodes fell 74%


def test_period_changes_for_the_pack(dropped: dict[str, Any]) -> None:
    changes = period_changes(Store(dropped["store"]), Q2)
    assert changes.schema == pl.Schema(CHANGE_SCHEMA)
    assert "person_key" not in changes.columns and "record_id" not in changes.columns
    flagged = changes.filter(pl.col("flagged"))
    assert set(flagged["agency_id"]) == {"bolton-csc"}
    rows = changes.filter(
        (pl.col("agency_id") == "bolton-csc") & (pl.col("measure") == "rows_read")
    )
    assert rows["previous"].item() == 234 and rows["current"].item() == dropped["kept"]
    assert rows["change_pct"].item() == pytest.approx(-59.8, abs=0.1)
    assert rows["flagged"].item() and rows["code"].item() == "row-count-change"
    assert set(changes["agency_id"]) == {
        "bolton-csc",
        "gmp",
        "manchester-csc",
        "mft-health",
        "vcs-tracker",
        "wigan-csc",
    }
    # the first quarter in the store has nothing before it: one-sided rows only
    first = period_changes(Store(dropped["store"]), Q1)
    assert set(first["measure"]) == {"rows_read"} and first["previous"].is_null().all()
    assert not first["flagged"].any()
    assert period_changes(Store(dropped["store"]), parse_period("2020-21 Q1")).height == 0


# --- measures on synthetic snapshots -------------------------------------------------------


def _snap(
    period: str, n: int, completeness: dict[str, float] | None = None, **columns: list[Any]
) -> Snapshot:
    frame: dict[str, list[Any]] = {
        "person_key": [f"{i:064x}" for i in range(n)],
        "open_at_period_end": [True] * n,
        "new_in_period": [False] * n,
        "sex": ["M"] * n,
        "ethnicity_major_group": ["White"] * n,
        "risk_level": ["LOW"] * n,
        "primary_exploitation_type": ["CCE"] * n,
    }
    frame.update(columns)
    filled = completeness or {"sex": 100.0, "ethnicity": 100.0}
    return Snapshot("a", "Agency A", parse_period(period), n, pl.DataFrame(frame), filled)


def _flagged(frame: pl.DataFrame) -> list[tuple[str, str | None]]:
    return [
        (r["measure"], r["field"]) for r in frame.filter(pl.col("flagged")).iter_rows(named=True)
    ]


def test_steady_quarters_raise_nothing() -> None:
    assert _flagged(compare(_snap("2026-27 Q1", 100), _snap("2026-27 Q2", 100))) == []


def test_distribution_shift_and_completeness_drop() -> None:
    prev = _snap("2026-27 Q1", 100)
    risk = ["HIGH"] * 60 + ["LOW"] * 40
    cur = _snap("2026-27 Q2", 100, {"sex": 80.0, "ethnicity": 95.0}, risk_level=risk)
    changes = compare(prev, cur)
    assert _flagged(changes) == [("completeness", "sex"), ("distribution", "risk_level")]
    shift = changes.filter(pl.col("field") == "risk_level")
    assert shift["change"].item() == pytest.approx(0.6)
    found = change_findings(changes, agency="a", source_file="f.csv")
    assert found["code"].to_list() == ["completeness-drop", "distribution-shift"]
    assert found["severity"].unique().to_list() == ["query"]
    assert found["source_row"].is_null().all() and found["record_id"].is_null().all()
    messages = " ".join(found["message"])
    assert "Sex is filled in for 80.0% of rows, down 20.0 points from 100.0%" in messages
    assert "HIGH 0% -> 60%" in messages
    assert all(key not in messages for key in cur.accepted["person_key"].head(3))


def test_children_disappeared_needs_comparable_keys() -> None:
    prev = _snap("2026-27 Q1", 100)
    cur = _snap("2026-27 Q2", 100, person_key=[f"{i + 30:064x}" for i in range(100)])
    flagged = _flagged(compare(prev, cur))
    assert flagged == [("children_disappeared", None)]
    assert "children_disappeared" not in compare(prev, cur, keys_comparable=False)["measure"]
    message = change_findings(compare(prev, cur), agency="a", source_file="f")["message"][0]
    assert message.startswith("30 of the 100 children open at the end of 2026-27 Q1 (30%)")


def test_small_previous_quarters_are_not_flagged() -> None:
    prev, cur = _snap("2026-27 Q1", 10), _snap("2026-27 Q2", 2)
    assert _flagged(compare(prev, cur)) == []
    loose = Thresholds(period_min_base=5)
    assert ("rows_read", None) in _flagged(compare(prev, cur, thresholds=loose))


def test_rise_is_flagged_with_plain_words() -> None:
    prev, cur = _snap("2026-27 Q1", 40), _snap("2026-27 Q2", 100)
    changes = compare(prev, cur)
    found = change_findings(changes, agency="a", source_file="f")
    rows = found.filter(pl.col("code") == "row-count-change")["message"].item()
    assert rows == (
        "This return has 100 rows, 150% more than the 40 in 2026-27 Q1 "
        "(a change of more than 50% is queried)."
    )
