"""CLI tests for tce keygen, tce init and tce export."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tce_cli.cli import app
from tce_cli.config import load_config
from tce_cli.pseudonymise import key_fingerprint, load_key
from test_export import make_store


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


def test_keygen_writes_a_private_key(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "tce.key"
    result = runner.invoke(app, ["keygen", str(path)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = load_key(path, {})
    assert key_fingerprint(key) in result.stdout
    assert key.hex() not in result.output


def test_keygen_refuses_to_overwrite(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "tce.key"
    path.write_text("keep me")
    result = runner.invoke(app, ["keygen", str(path)])
    assert result.exit_code == 2
    assert len(_error_lines(result.stderr)) == 1 and "already exists" in result.stderr
    assert "--force" in result.stderr
    assert path.read_text() == "keep me"
    forced = runner.invoke(app, ["keygen", str(path), "--force"])
    assert forced.exit_code == 0 and len(load_key(path, {})) == 32


def test_init_scaffolds_a_project(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "gm"
    result = runner.invoke(app, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    assert (folder / "mappings" / "README.txt").is_file()
    assert (folder / "tce-store").is_dir() and not any((folder / "tce-store").iterdir())
    ignored = (folder / ".gitignore").read_text().split()
    assert {"*.key", "tce-store/", "tce-output/"} <= set(ignored)
    config = load_config(folder / "mappings")
    assert config.source == (folder / "tce.toml").resolve()
    assert config.store == (folder / "tce-store").resolve()
    assert "Next steps" in result.stdout and "tce keygen" in result.stdout


def test_init_refuses_to_overwrite(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("mine\n")
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 2 and len(_error_lines(result.stderr)) == 1
    assert ".gitignore" in result.stderr
    assert (tmp_path / ".gitignore").read_text() == "mine\n"
    assert not (tmp_path / "tce.toml").exists()


def test_export_command(runner: CliRunner, tmp_path: Path) -> None:
    store = make_store(tmp_path / "s")
    out = tmp_path / "out.parquet"
    result = runner.invoke(
        app, ["export", "--period", "2026-27Q2", "--out", str(out), "--store", str(store.root)]
    )
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(out).height == 4
    as_json = runner.invoke(
        app,
        [
            "export",
            "-p",
            "2026-27 Q2",
            "-f",
            "csv",
            "-o",
            str(tmp_path),
            "--store",
            str(store.root),
            "--json",
        ],
    )
    assert as_json.exit_code == 0
    assert '"rows": 4' in as_json.stdout
    assert (tmp_path / "tce-harmonised-2026-27Q2.csv").is_file()


def test_export_uses_config_defaults(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tce.toml").write_text('store = "s"\noutput = "exports"\n')
    make_store(tmp_path / "s")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["export", "--period", "2026-27 Q2", "--format", "xlsx"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "exports" / "tce-harmonised-2026-27Q2.xlsx").is_file()


def test_export_unknown_period_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    store = make_store(tmp_path / "s")
    result = runner.invoke(
        app,
        [
            "export",
            "--period",
            "2025-26 Q1",
            "--store",
            str(store.root),
            "-o",
            str(tmp_path / "x.csv"),
        ],
    )
    assert result.exit_code == 2
    assert len(_error_lines(result.stderr)) == 1
    assert "2026-27 Q2" in result.stderr  # names the periods that exist


def test_export_no_store_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "export",
            "--period",
            "2026-27 Q2",
            "--store",
            str(tmp_path / "nothing"),
            "-o",
            str(tmp_path / "x.csv"),
        ],
    )
    assert result.exit_code == 2 and "No tce store" in result.stderr


@pytest.mark.parametrize("command", ["keygen", "init", "export"])
def test_commands_have_help(runner: CliRunner, command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Exit codes" in result.stdout
