"""`tce report` on the command line: files written, stamps, and one-line errors (exit 2)."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from tce_cli.cli import app
from test_report_support import P2, Rec, scenario, write_store

WHEN = "2026-11-30T09:00:00Z"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scenario(tmp_path_factory.mktemp("cli") / "store")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["report", *args])
    return result.exit_code, result.stdout, result.stderr


def test_report_writes_the_pack(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run(
        "--period", "2026-27Q2", "--store", str(store), "--out", str(out), "--generated-at", WHEN
    )
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == ["measures.csv", "pack.md", "pack.xlsx"]
    assert stdout.splitlines() == [str(out / n) for n in ("measures.csv", "pack.md", "pack.xlsx")]
    assert "Pack for 2026-27 Q2" in stderr and "suppressed" in stderr
    text = (out / "pack.md").read_text()
    assert "**Generated:** 2026-11-30T09:00:00Z" in text
    assert "NOT FOR PUBLICATION" not in text


def test_default_output_folder_and_one_format(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run("-p", "2026-27 Q2", "--store", str(store), "--format", "md")
    assert code == 0, stderr
    folder = tmp_path / "tce-output" / "report-2026-27Q2"
    assert sorted(p.name for p in folder.iterdir()) == ["measures.csv", "pack.md"]


def test_same_timestamp_gives_identical_files(store: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        args = ["-p", P2, "--store", str(store), "--out", str(tmp_path / name)]
        assert run(*args, "--generated-at", WHEN)[0] == 0
    for file in ("pack.md", "measures.csv", "pack.xlsx"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


def test_no_suppression_is_stamped_everywhere(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, stderr = run("-p", P2, "--store", str(store), "--out", str(out), "--no-suppression")
    assert code == 0 and "NOT FOR PUBLICATION" in stderr
    text = (out / "pack.md").read_text()
    assert text.count("> **NOT FOR PUBLICATION") == text.count("\n## ")  # top + each section
    wb = openpyxl.load_workbook(io.BytesIO((out / "pack.xlsx").read_bytes()))
    assert all("NOT FOR PUBLICATION" in str(ws["A2"].value) for ws in wb)


def test_not_pseudonymised_store_is_stamped(tmp_path: Path) -> None:
    store = write_store(
        tmp_path / "s", {P2: [Rec("a", "gmp", date(2026, 8, 1))]}, pseudonymised=False
    )
    out = tmp_path / "out"
    code, _, stderr = run("-p", P2, "--store", str(store), "--out", str(out))
    assert code == 0, stderr
    text = (out / "pack.md").read_text()
    assert text.count("> **NOT PSEUDONYMISED — local testing only") == text.count("\n## ")
    wb = openpyxl.load_workbook(io.BytesIO((out / "pack.xlsx").read_bytes()))
    assert all("NOT PSEUDONYMISED" in str(ws["A2"].value) for ws in wb)


def _error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_unknown_period_exits_2_naming_the_periods(store: Path, tmp_path: Path) -> None:
    code, _, stderr = run("-p", "2030-31 Q1", "--store", str(store), "--out", str(tmp_path))
    assert code == 2
    assert "no data for 2030-31 Q1" in _error(stderr)
    assert "2025-26 Q4, 2026-27 Q1, 2026-27 Q2" in stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_missing_or_empty_store_exits_2(tmp_path: Path, kind: str) -> None:
    store = tmp_path / "store"
    if kind == "empty":
        store.mkdir()
    code, _, stderr = run("-p", P2, "--store", str(store), "--out", str(tmp_path / "out"))
    assert code == 2
    assert "store" in _error(stderr).lower()
    assert "Hint:" in stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "pdf"],
        ["--format", ""],
        ["--generated-at", "yesterday"],
        ["--templates", "/no/such/folder"],
    ],
)
def test_bad_options_exit_2(store: Path, tmp_path: Path, args: list[str]) -> None:
    code, _, stderr = run("-p", P2, "--store", str(store), "--out", str(tmp_path / "o"), *args)
    assert code == 2
    _error(stderr)


def test_bad_period_label_exits_2(store: Path) -> None:
    code, _, stderr = run("-p", "Q2", "--store", str(store))
    assert code == 2
    _error(stderr)
