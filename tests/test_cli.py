"""The command line as a whole: help text, version, README coverage, no tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from tce_cli import __version__
from tce_cli.cli import app

ROOT = Path(__file__).resolve().parents[1]


def _command_paths() -> list[list[str]]:
    root: Any = get_command(app)  # Typer vendors Click: inspect by duck typing
    paths: list[list[str]] = []
    for name, cmd in sorted(root.commands.items()):
        if hasattr(cmd, "commands"):
            paths += [[name, sub] for sub in sorted(cmd.commands)]
        else:
            paths.append([name])
    return paths


COMMANDS = _command_paths()


def test_version() -> None:
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and __version__ in res.stdout


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_command_has_help_and_a_readme_mention(path: list[str]) -> None:
    res = CliRunner().invoke(app, [*path, "--help"])
    assert res.exit_code == 0
    assert "Usage" in res.stdout
    readme = (ROOT / "README.md").read_text()
    assert f"tce {' '.join(path)}" in readme, f"README does not mention 'tce {' '.join(path)}'"


def test_no_show_locals_in_tracebacks() -> None:
    assert app.pretty_exceptions_show_locals is False
    assert isinstance(app, typer.Typer)


def test_help_is_fast_and_does_not_import_polars() -> None:
    code = "import sys; from tce_cli.cli import app; print('polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_command_is_a_usage_error() -> None:
    res = CliRunner().invoke(app, ["frobnicate"])
    assert res.exit_code == 2


def test_readme_cli_reference_is_current() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import cli_reference
    finally:
        sys.path.pop(0)
    text = (ROOT / "README.md").read_text()
    assert cli_reference.updated(text) == text, "run: python scripts/cli_reference.py"
