from __future__ import annotations

import errno
import os
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tce_cli import safe_io
from tce_cli.errors import OutputError
from tce_cli.safe_io import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    ensure_inside,
    neutralise_expr,
    neutralise_formula,
    output_error,
    text_table,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\rx", "'\rx"),
        ("  =1+1", "'  =1+1"),
        ("-5", "-5"),
        ("+44", "+44"),
        ("-1.5e3", "-1.5e3"),
        ("Bolton", "Bolton"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise_formula(text: str, expected: str) -> None:
    assert neutralise_formula(text) == expected


@given(st.lists(st.one_of(st.none(), st.text(max_size=20)), max_size=30))
def test_expression_matches_python_version(values: list[str | None]) -> None:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    got = frame.select(neutralise_expr("v"))["v"].to_list()
    assert got == [None if v is None else neutralise_formula(v) for v in values]


def test_text_table_joins_lists_formats_dates_and_neutralises() -> None:
    frame = pl.DataFrame(
        {
            "codes": [["CSE", "CCE"], ["=x"]],
            "day": [date(2026, 7, 1), None],
            "n": [1, -5],
            "s": ["@evil", "ok"],
        }
    )
    out = text_table(frame).collect()
    assert out.to_dict(as_series=False) == {
        "codes": ["CSE;CCE", "'=x"],
        "day": ["2026-07-01", None],
        "n": [1, -5],
        "s": ["'@evil", "ok"],
    }


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    atomic_write_text(path, "old\n")
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_keeps_old_file_when_block_fails(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_atomic_path_mode(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    atomic_write_text(path, "x", mode=0o600)
    assert path.stat().st_mode & 0o777 == 0o600


def test_replace_failure_becomes_output_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safe_io.os, "replace", full_disk)
    with pytest.raises(OutputError, match="disk is full"):
        atomic_write_text(tmp_path / "x.txt", "x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="needs POSIX non-root")
def test_read_only_folder_is_output_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="read-only"):
            atomic_write_text(folder / "x.txt", "x")
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.ENOSPC, errno.ENOENT, errno.EIO])
def test_output_error_messages_name_the_path(code: int) -> None:
    err = output_error(OSError(code, os.strerror(code)), Path("/data/out.csv"))
    assert "/data" in err.message and err.hint


def test_ensure_inside(tmp_path: Path) -> None:
    base = tmp_path / "out"
    base.mkdir()
    assert ensure_inside(base, Path("a/b.md")) == (base / "a" / "b.md").resolve()
    with pytest.raises(OutputError):
        ensure_inside(base, Path("../escape.md"))
    with pytest.raises(OutputError):
        ensure_inside(base, tmp_path / "elsewhere.md")
    (base / "link").symlink_to(tmp_path)
    with pytest.raises(OutputError):
        ensure_inside(base, Path("link/escape.md"))
