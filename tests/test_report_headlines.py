"""What the store keeps for the report (``period=*/headlines.json`` and
``children*.parquet``): written by harmonise, used by report only while current, and a pack
is the same with or without them."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from tce_cli.cli import app
from tce_cli.periods import Period, parse_period
from tce_cli.report import build_pack, headlines, render_markdown
from tce_cli.report.store_read import open_store

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "data"
QUARTERS = sorted(p.name for p in DATA.iterdir())
LATEST = parse_period(QUARTERS[-1])
STAMP = "2026-11-25T09:00:00+00:00"
WHEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _harmonise(store: Path, folder: Path, quarter: str, stamp: str = STAMP) -> None:
    key = store.parent / "test.key"
    if not key.exists():
        key.write_text("33" * 32)
    args = ["harmonise", str(folder), "--period", quarter, "--store", str(store)]
    args += ["--key-file", str(key), "--generated-at", stamp, "--mappings", str(ROOT / "mappings")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1), result.output


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("headlines") / "store"
    for quarter in QUARTERS:
        _harmonise(store, DATA / quarter, quarter)
    return store


@pytest.fixture
def store(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(built, copy)
    (tmp_path / "test.key").write_text("33" * 32)
    return copy


def _pack_text(store: Path, period: Period = LATEST) -> str:
    return render_markdown(build_pack(store, period, generated_at=WHEN))


def _kept(store: Path) -> dict[str, bool]:
    info = open_store(store)
    return {p.label: headlines.kept_quarter(info, p) is not None for p in info.periods}


def _drop_kept(store: Path) -> Path:
    copy = store.parent / "without"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(store, copy)
    for name in (headlines.FILE, headlines.CHILDREN, headlines.BY_AGENCY_TYPE):
        for path in copy.glob(f"period=*/{name}"):
            path.unlink()
    return copy


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


def test_harmonise_keeps_every_quarters_values_and_the_pack_is_the_same(store: Path) -> None:
    assert all(_kept(store).values())
    without = _drop_kept(store)
    assert not any(_kept(without).values())
    assert _pack_text(store) == _pack_text(without)


def _set_count(cell: dict[str, Any], measure: str, value: int) -> None:
    """Set every count of ``measure`` in a kept cell (rates share their denominator's key)."""
    if cell["key"][1] == measure and "count" in cell:
        cell["count"] = value
    for part in ("den", "num"):
        if cell.get(part):
            _set_count(cell[part], measure, value)


def test_the_report_reads_kept_values(store: Path) -> None:
    path = store / f"period={LATEST.previous().slug}" / "headlines.json"
    kept = json.loads(path.read_text())
    for cell in kept["values"].values():
        _set_count(cell, "M01", 4321)
    path.write_text(json.dumps(kept))
    assert "| 4321 |" in _line(_pack_text(store), "| M01")


def test_the_report_reads_kept_changes_and_child_frames(store: Path) -> None:
    path = store / f"period={LATEST.slug}" / "headlines.json"
    kept = json.loads(path.read_text())
    row = next(r for r in kept["changes"] if r["measure"] == "rows_read")
    row["current"] = 98765.0
    children = store / f"period={LATEST.slug}" / headlines.CHILDREN
    frame = pl.read_parquet(children)
    frame.with_columns(pl.lit(False).alias("reref")).write_parquet(children)
    kept["sha256"][headlines.CHILDREN] = hashlib.sha256(children.read_bytes()).hexdigest()
    path.write_text(json.dumps(kept))
    text = _pack_text(store)
    assert "| 98765 |" in _line(text, f"| {row['agency_name']} |")
    assert _line(text, "| M04").split("|")[2].strip() == "0.0"
    # child frames that are not the ones the kept values were made with are not used
    frame.head(3).write_parquet(children)
    assert not _kept(store)[LATEST.label]
    assert _line(_pack_text(store), "| M04").split("|")[2].strip() != "0.0"


def test_a_resubmitted_earlier_quarter_refreshes_later_kept_values(store: Path) -> None:
    first, second = parse_period(QUARTERS[0]), parse_period(QUARTERS[1])
    before = json.loads((store / f"period={LATEST.slug}" / "headlines.json").read_text())
    fewer = store.parent / "fewer"
    fewer.mkdir()
    for path in sorted((DATA / QUARTERS[0]).iterdir())[:2]:
        shutil.copy(path, fewer / path.name)
    _harmonise(store, fewer, first.label, stamp="2026-11-26T09:00:00+00:00")
    # only the resubmitted agencies changed, but every later quarter's re-referrals look back
    assert all(_kept(store).values())
    after = json.loads((store / f"period={LATEST.slug}" / "headlines.json").read_text())
    assert after["fingerprint"] != before["fingerprint"]
    assert _pack_text(store) == _pack_text(_drop_kept(store))
    assert _pack_text(store, second) == _pack_text(_drop_kept(store), second)


def test_stale_or_damaged_kept_values_are_not_used(store: Path) -> None:
    want = _pack_text(store)
    quarters = [parse_period(q) for q in QUARTERS]
    # an earlier quarter's manifest changes: it and every later quarter are stale
    manifest = store / f"period={quarters[1].slug}" / "manifest.json"
    manifest.write_bytes(manifest.read_bytes() + b"\n")
    assert _kept(store) == {q.label: i < 1 for i, q in enumerate(quarters)}
    # a damaged file is ignored
    (store / f"period={quarters[0].slug}" / "headlines.json").write_text("{not json")
    assert not any(_kept(store).values())
    assert _pack_text(store) == want


def test_values_kept_by_other_code_are_not_used(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(headlines, "code_fingerprint", lambda: "another version of tce")
    assert not any(_kept(store).values())


def test_kept_values_are_byte_identical_on_a_rerun(store: Path) -> None:
    path = store / f"period={LATEST.slug}" / "headlines.json"
    before = path.read_bytes()
    _harmonise(store, DATA / QUARTERS[-1], LATEST.label)
    assert path.read_bytes() == before
    assert b"person_key" not in before and json.loads(before)["period"] == LATEST.label


@pytest.mark.parametrize("seed", [1, 2])
def test_kept_files_stay_current_through_any_order_of_runs(tmp_path: Path, seed: int) -> None:
    """Quarters harmonised in a random order, some agencies at a time, some resubmitted:
    after every run every quarter's kept files are current, and every quarter's pack is the
    same as one worked out from the rows alone."""
    rng = random.Random(seed)
    store = tmp_path / "store"
    runs = int(os.environ.get("TCE_PROPERTY_EXAMPLES", "0")) or 7
    for n in range(runs):
        quarter = rng.choice(QUARTERS)
        files = sorted((DATA / quarter).iterdir())
        chosen = tmp_path / f"run{n}"
        chosen.mkdir()
        for path in rng.sample(files, rng.randint(1, len(files))):
            shutil.copy(path, chosen / path.name)
        _harmonise(store, chosen, quarter, stamp=f"2026-11-{n + 1:02d}T09:00:00+00:00")
        assert all(_kept(store).values()), (n, quarter)
    without = _drop_kept(store)
    for period in open_store(store).periods:
        assert _pack_text(store, period) == _pack_text(without, period), period


def test_a_failure_working_out_kept_files_never_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(data: object) -> dict[str, object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(headlines, "headline_values", broken)
    store = tmp_path / "store"
    _harmonise(store, DATA / QUARTERS[-1], QUARTERS[-1])
    assert list(store.glob("period=*/agency=*/part-0.parquet"))
    assert not list(store.glob(f"period=*/{headlines.FILE}"))
    assert not any(_kept(store).values())
