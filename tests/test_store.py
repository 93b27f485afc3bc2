from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tce_cli import safe_io
from tce_cli import store as store_module
from tce_cli.errors import OutputError, StoreError
from tce_cli.periods import Period, parse_period
from tce_cli.store import LOCK, MARKER, Partition, Store, conform_frame, store_schema

Q2 = parse_period("2026-27 Q2")
Q3 = parse_period("2026-27 Q3")
FP = "sha256:0123456789abcdef"
AT = datetime(2026, 11, 25, 10, 15, tzinfo=UTC)


def contract_frame(agency: str, n: int, *, period: Period = Q2, seed: int = 0) -> pl.DataFrame:
    """A frame with every store column; values vary with ``seed`` so rewrites differ."""
    values: dict[str, pl.Series] = {}
    for name, dtype in store_schema().items():
        if dtype == pl.String:
            data: list[Any] = [f"{name[:3]}{i + seed}" for i in range(n)]
        elif dtype == pl.Int64:
            data = [i + seed for i in range(n)]
        elif dtype == pl.Date:
            data = [period.start] * n
        elif dtype == pl.Boolean:
            data = [i % 2 == 0 for i in range(n)]
        else:
            data = [["CSE", "CCE"]] * n
        values[name] = pl.Series(name, data, dtype=dtype)
    frame = pl.DataFrame(values)
    return frame.with_columns(
        person_key=pl.Series(
            [hashlib.sha256(f"{agency}{i}".encode()).hexdigest() for i in range(n)]
        ),
        agency_id=pl.lit(agency),
        source_file=pl.lit(f"{agency}.csv"),
        reporting_period=pl.lit(period.label),
    ).sample(fraction=1.0, shuffle=True, seed=seed)  # the store sorts it


def entry(accepted: int, rejected: int) -> dict[str, Any]:
    return {
        "agency_name": "Agency",
        "agency_type": "LA_CSC",
        "org_code": "E08000001",
        "mapping": "agency.yaml",
        "mapping_sha256": "0" * 64,
        "extract_date": "2026-10-14",
        "inputs": [
            {
                "file": "agency.csv",
                "sha256": "1" * 64,
                "rows_read": accepted + rejected,
                "rows_accepted": accepted,
                "rows_rejected": rejected,
            }
        ],
        "rows_read": accepted + rejected,
        "rows_accepted": accepted,
        "rows_rejected": rejected,
        "findings_by_code": {"invalid-date": rejected},
        "findings_by_severity": {"error": rejected},
        "completeness": {"sex": 100.0},
        "validity": 90.0,
        "timeliness_days": 14,
    }


def rejected_frame(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_id": [f"R{i}" for i in range(n)],
            "source_file": ["agency.csv"] * n,
            "source_row": list(range(2, n + 2)),
            "codes": [["invalid-date"]] * n,
            "messages": ['=HYPERLINK("x")'] * n,
        },
        schema_overrides={"source_row": pl.Int64},
    )


def part(agency: str, n: int = 5, rejected: int = 2, seed: int = 0) -> Partition:
    return Partition(
        agency, contract_frame(agency, n, seed=seed), entry(n, rejected), rejected_frame(rejected)
    )


def write(
    store: Store, *parts: Partition, period: Period = Q2, at: datetime = AT, fp: str | None = FP
) -> None:
    store.write_run(period, list(parts), generated_at=at, key_fingerprint=fp)


def snapshot(root: Path) -> dict[str, str]:
    """Every path under root with the sha256 of files ("dir" for folders)."""
    return {
        str(p.relative_to(root)): "dir"
        if p.is_dir()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def test_layout_and_read_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    write(store, part("bolton-csc", 5), part("gmp", 3, 1))
    root = tmp_path / "s"
    assert (root / "period=2026-27Q2" / "agency=bolton-csc" / "part-0.parquet").is_file()
    assert (root / "rejected" / "period=2026-27Q2" / "gmp.csv").is_file()
    assert json.loads((root / MARKER).read_text()) == {
        "store_version": 1,
        "pseudonymised": True,
        "key_fingerprint": FP,
    }
    assert store.periods() == [Q2]
    assert store.agencies(Q2) == ["bolton-csc", "gmp"]
    frame = store.scan(Q2).collect()
    assert frame.height == 8 and frame.columns == list(store_schema())
    assert dict(frame.schema) == store_schema()
    manifest = store.manifest(Q2)
    assert manifest["period"] == "2026-27 Q2" and manifest["period_end"] == "2026-09-30"
    assert manifest["key_fingerprint"] == FP and manifest["pseudonymised"] is True
    assert manifest["generated_at"] == "2026-11-25T10:15:00Z"
    assert sorted(manifest["agencies"]) == ["bolton-csc", "gmp"]
    assert manifest["agencies"]["gmp"]["submitted_at"] == "2026-11-25T10:15:00Z"
    assert [p.name for p in store.history(Q2)] == [
        "2026-11-25T101500Z-bolton-csc.json",
        "2026-11-25T101500Z-gmp.json",
    ]
    assert not (root / LOCK).exists()


def test_rows_sorted_by_source_file_and_row(tmp_path: Path) -> None:
    store = Store(tmp_path)
    write(store, part("bolton-csc", 50))
    rows = store.scan(Q2).select("source_row").collect()["source_row"].to_list()
    assert rows == sorted(rows)


def test_rejected_csv_is_neutralised(tmp_path: Path) -> None:
    store = Store(tmp_path)
    write(store, part("gmp", 3, 2))
    text = (tmp_path / "rejected" / "period=2026-27Q2" / "gmp.csv").read_text()
    assert text.splitlines()[0] == "record_id,source_file,source_row,codes,messages"
    assert "'=HYPERLINK" in text and ",invalid-date," in text


def test_writing_twice_gives_identical_bytes_and_rows(tmp_path: Path) -> None:
    store = Store(tmp_path)
    write(store, part("bolton-csc", 300))
    path = store.partition_path(Q2, "bolton-csc")
    first = path.read_bytes()
    write(store, part("bolton-csc", 300, seed=0), at=datetime(2026, 11, 26, tzinfo=UTC))
    assert path.read_bytes() == first
    assert store.scan(Q2).collect().height == 300  # replaced, never duplicated
    assert len(store.history(Q2)) == 2


def test_same_rows_in_another_order_or_chunking_give_the_same_bytes(tmp_path: Path) -> None:
    frame = contract_frame("gmp", 100)
    chunked = pl.concat([frame.slice(0, 10), frame.slice(10)], rechunk=False)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=7)
    store_a, store_b = Store(tmp_path / "a"), Store(tmp_path / "b")
    store_a.write_run(
        Q2,
        [Partition("gmp", chunked, entry(100, 0), rejected_frame(0))],
        generated_at=AT,
        key_fingerprint=FP,
    )
    store_b.write_run(
        Q2,
        [Partition("gmp", shuffled, entry(100, 0), rejected_frame(0))],
        generated_at=AT,
        key_fingerprint=FP,
    )
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")


def test_replacing_one_agency_leaves_others_untouched(tmp_path: Path) -> None:
    store = Store(tmp_path)
    write(store, part("bolton-csc", 5), part("gmp", 4, 1))
    write(store, part("bolton-csc", 7), period=Q3)
    before = snapshot(tmp_path)
    write(store, part("bolton-csc", 9, 0, seed=3), at=datetime(2026, 12, 1, tzinfo=UTC))
    after = snapshot(tmp_path)
    unchanged = [k for k in before if "gmp" in k or "2026-27Q3" in k]
    assert unchanged and all(before[k] == after[k] for k in unchanged)
    assert (
        before["period=2026-27Q2/agency=bolton-csc/part-0.parquet"]
        != after["period=2026-27Q2/agency=bolton-csc/part-0.parquet"]
    )
    assert store.scan(Q2).group_by("agency_id").len().sort("agency_id").collect().rows() == [
        ("bolton-csc", 9),
        ("gmp", 4),
    ]
    manifest = store.manifest(Q2)
    assert manifest["agencies"]["gmp"]["rows_accepted"] == 4
    assert manifest["agencies"]["bolton-csc"]["rows_accepted"] == 9
    assert manifest["generated_at"] == "2026-12-01T00:00:00Z"
    assert store.scan().collect().height == 9 + 4 + 7


@pytest.mark.parametrize("fail_at", [1, 2, 4, 7])
def test_failure_mid_commit_leaves_store_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    store = Store(tmp_path)
    write(store, part("bolton-csc", 5), part("gmp", 4, 1))
    before = snapshot(tmp_path)
    calls = {"n": 0}
    real = safe_io._replace

    def flaky(src: Path, dst: Path) -> None:
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise RuntimeError("injected")
        real(src, dst)

    monkeypatch.setattr(safe_io, "_replace", flaky)
    with pytest.raises(RuntimeError, match="injected"):
        write(
            store,
            part("bolton-csc", 8, seed=1),
            part("wigan-csc", 3),
            at=datetime(2026, 12, 1, tzinfo=UTC),
        )
    assert calls["n"] == fail_at
    assert snapshot(tmp_path) == before


def test_failure_while_staging_leaves_store_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    write(store, part("gmp", 4, 1))
    before = snapshot(tmp_path)

    def broken(frame: pl.DataFrame, path: Path) -> None:
        path.write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "_write_parquet", broken)
    with pytest.raises(OutputError, match="disk is full"):
        write(store, part("gmp", 6, 1, seed=2), part("new-agency", 2))
    assert snapshot(tmp_path) == before


def test_first_write_failure_leaves_no_store_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real = safe_io._replace

    def flaky(src: Path, dst: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("injected")
        real(src, dst)

    monkeypatch.setattr(safe_io, "_replace", flaky)
    with pytest.raises(RuntimeError):
        write(Store(tmp_path / "s"), part("gmp"))
    assert snapshot(tmp_path / "s") == {}


def test_lock_blocks_a_second_writer(tmp_path: Path) -> None:
    first, second = Store(tmp_path), Store(tmp_path)
    with first.lock():
        info = json.loads((tmp_path / LOCK).read_text())
        assert info["pid"] == os.getpid()
        with pytest.raises(StoreError) as exc:
            write(second, part("gmp"))
        assert f"pid {os.getpid()}" in exc.value.message
        assert "another tce run" in exc.value.message and LOCK in exc.value.hint
        write(first, part("gmp"))  # the holder may write (re-entrant)
    assert not (tmp_path / LOCK).exists()
    write(second, part("gmp"))


def test_lock_in_another_process(tmp_path: Path) -> None:
    Store(tmp_path)  # the folder
    code = (
        "import sys, time; from pathlib import Path; from tce_cli.store import Store\n"
        "with Store(Path(sys.argv[1])).lock():\n    print('locked', flush=True); time.sleep(30)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError, match=f"pid {child.pid}"):
            write(Store(tmp_path), part("gmp"))
    finally:
        child.kill()
        child.wait()
    # killed holder: its lock is stale, so the next writer takes over
    assert (tmp_path / LOCK).exists()
    write(Store(tmp_path), part("gmp"))
    assert not (tmp_path / LOCK).exists()


def test_stale_lock_from_dead_process_is_replaced(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    (tmp_path / LOCK).write_text(
        json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": "x", "token": "t"})
    )
    write(Store(tmp_path), part("gmp"))
    assert not (tmp_path / LOCK).exists()


def test_lock_from_another_host_is_not_broken(tmp_path: Path) -> None:
    (tmp_path / LOCK).write_text(
        json.dumps({"pid": 1, "host": "elsewhere", "since": "T0", "token": "t"})
    )
    with pytest.raises(StoreError, match=r"pid 1, since T0"):
        write(Store(tmp_path), part("gmp"))
    assert (tmp_path / LOCK).exists()


def test_key_fingerprint_and_pseudonymisation_cannot_be_mixed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    write(store, part("gmp"))
    before = snapshot(tmp_path)
    with pytest.raises(StoreError, match="another key"):
        write(store, part("bolton-csc"), fp="sha256:ffffffffffffffff")
    with pytest.raises(StoreError, match="cannot be mixed"):
        write(store, part("bolton-csc"), fp=None)
    assert snapshot(tmp_path) == before


def test_not_pseudonymised_store_is_marked(tmp_path: Path) -> None:
    store = Store(tmp_path)
    write(store, part("gmp"), fp=None)
    marker = store.marker()
    assert marker is not None and marker.pseudonymised is False and marker.key_fingerprint is None
    assert store.manifest(Q2)["pseudonymised"] is False


def test_refuses_a_folder_that_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "thesis.docx").write_text("x")
    with pytest.raises(StoreError, match="not a tce store"):
        write(Store(tmp_path), part("gmp"))


def test_contract_violations(tmp_path: Path) -> None:
    frame = contract_frame("gmp", 3)
    with pytest.raises(StoreError, match="personal fields: nhs_number"):
        conform_frame(frame.with_columns(nhs_number=pl.lit("9434765919")))
    with pytest.raises(StoreError, match="missing: sex"):
        conform_frame(frame.drop("sex"))
    with pytest.raises(StoreError, match="unknown: scratch"):
        conform_frame(frame.with_columns(scratch=pl.lit(1)))
    with pytest.raises(StoreError, match="dtype: source_row"):
        conform_frame(frame.with_columns(pl.col("source_row").cast(pl.Int32)))
    with pytest.raises(StoreError, match="64 lower-case hex"):
        conform_frame(frame.with_columns(person_key=pl.lit("NHS:9434765919")))
    nulls = frame.with_columns(lsoa21_code=pl.lit(None))
    assert conform_frame(nulls).schema["lsoa21_code"] == pl.String
    bad_rejected = Partition(
        "gmp", frame, entry(3, 1), rejected_frame(1).with_columns(upn=pl.lit("x"))
    )
    with pytest.raises(StoreError, match="personal fields: upn"):
        write(Store(tmp_path), bad_rejected)


def test_counts_must_add_up(tmp_path: Path) -> None:
    bad = entry(5, 2)
    bad["inputs"][0]["rows_read"] = 8
    with pytest.raises(StoreError, match="rows_read"):
        write(Store(tmp_path), Partition("gmp", contract_frame("gmp", 5), bad, rejected_frame(2)))
    with pytest.raises(StoreError, match="do not add up"):
        write(
            Store(tmp_path),
            Partition("gmp", contract_frame("gmp", 4), entry(5, 2), rejected_frame(2)),
        )
    with pytest.raises(StoreError, match="twice"):
        write(Store(tmp_path), part("gmp"), part("gmp"))
    assert not any(tmp_path.iterdir())


def test_scan_unknown_period_names_existing_ones(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(StoreError, match="no harmonised data"):
        store.scan(Q2)
    write(store, part("gmp"))
    with pytest.raises(StoreError) as exc:
        store.scan(Q3)
    assert "2026-27 Q2" in exc.value.hint
    with pytest.raises(StoreError):
        store.manifest(Q3)


def test_history_names_never_collide(tmp_path: Path) -> None:
    store = Store(tmp_path)
    write(store, part("gmp"))
    write(store, part("gmp"))
    assert [p.name for p in store.history(Q2)] == [
        "2026-11-25T101500Z-gmp-2.json",
        "2026-11-25T101500Z-gmp.json",
    ]


def test_leftover_staging_from_a_crash_is_cleaned(tmp_path: Path) -> None:
    store = Store(tmp_path)
    write(store, part("gmp"))
    (tmp_path / ".tce-staging-dead" / "new").mkdir(parents=True)
    write(store, part("gmp"))
    assert not (tmp_path / ".tce-staging-dead").exists()


def test_extract_date_type(tmp_path: Path) -> None:
    store = Store(tmp_path)
    write(store, part("gmp"))
    assert store.scan(Q2).select("extract_date").collect()["extract_date"][0] == date(2026, 7, 1)


def test_damaged_or_newer_marker_and_damaged_manifest(tmp_path: Path) -> None:
    store = Store(tmp_path)
    write(store, part("gmp"))
    marker = tmp_path / MARKER
    good = marker.read_text()
    marker.write_text(good.replace('"store_version": 1', '"store_version": 2'))
    with pytest.raises(StoreError, match="layout version 2"):
        write(store, part("gmp"))
    marker.write_text("{not json")
    with pytest.raises(StoreError, match="damaged"):
        store.marker()
    marker.write_text(good)
    (tmp_path / "period=2026-27Q2" / "manifest.json").write_text("[]")
    with pytest.raises(StoreError, match="manifest .* is damaged"):
        write(store, part("gmp"))


def test_read_only_store_is_output_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def deny_lock(path: Any, flags: int, mode: int = 0o777) -> int:
        if str(path).endswith(LOCK):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr(store_module.os, "open", deny_lock)
    with pytest.raises(OutputError, match="read-only or you lack permission"):
        write(Store(tmp_path), part("gmp"))


def test_damaged_manifest_on_read(tmp_path: Path) -> None:
    store = Store(tmp_path)
    write(store, part("gmp"))
    (tmp_path / "period=2026-27Q2" / "manifest.json").write_text("{")
    with pytest.raises(StoreError, match="damaged"):
        store.manifest(Q2)
