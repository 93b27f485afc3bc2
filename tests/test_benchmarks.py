"""The benchmark code keeps working: on a small generated file the plain Polars reference and
``tce validate`` count the same findings wherever they check the same thing."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest
from typer.testing import CliRunner

from tce_cli.cli import app

ROOT = Path(__file__).resolve().parents[1]

SHARED_CODES = (
    "required-missing",
    "invalid-code",
    "invalid-date",
    "implausible-date",
    "invalid-integer",
    "invalid-record-id",
    "nhs-number-invalid",
    "la-child-id-invalid",
    "postcode-invalid",
    "duplicate-record-id",
    "duplicate-episode",
    "end-before-start",
)


def _benchmarks(name: str) -> ModuleType:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"benchmarks.{name}")


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gen = _benchmarks("gen")
    return gen.make("bolton-csc", 2000, out=tmp_path_factory.mktemp("bench"))  # type: ignore[no-any-return]


def test_generator_is_deterministic_and_dirty(small_file: Path, tmp_path: Path) -> None:
    gen = _benchmarks("gen")
    again = gen.make("bolton-csc", 2000, out=tmp_path)
    assert again.read_bytes() == small_file.read_bytes()
    frame = pl.read_csv(small_file, infer_schema=False)
    assert frame.height == 2000
    assert frame.columns == gen.template("bolton-csc").columns
    assert 1900 < frame["Episode ID"].n_unique() < 2000  # a few planted duplicate rows


def test_reference_counts_equal_tce_findings(small_file: Path, runner: CliRunner) -> None:
    gen, reference = _benchmarks("gen"), _benchmarks("reference")
    ref = reference.validate(small_file, gen.reference_spec("bolton-csc"))
    result = runner.invoke(
        app, ["validate", str(small_file), "--mappings", str(gen.MAPPINGS), "--format", "json"]
    )
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)["files"][0]
    assert summary["rows_read"] == ref["rows"] == 2000
    found = summary["findings_by_code"]
    assert {c: found.get(c, 0) for c in SHARED_CODES} == {c: ref[c] for c in SHARED_CODES}
    assert sum(ref[c] for c in SHARED_CODES) > 50  # the generator planted dirt


def test_reference_hmac_matches_python() -> None:
    reference = _benchmarks("reference")
    key = bytes(range(32))
    out = pl.select(reference.hmac_sha256(key, pl.lit("NHS:9434765919"))).item()
    assert out == hmac.new(key, b"NHS:9434765919", hashlib.sha256).hexdigest()


def test_runner_measures_a_process() -> None:
    run = _benchmarks("run")
    measured = run.measure([sys.executable, "-c", "pass"])
    assert measured.returncode == 0
    assert 0 < measured.wall < 10
    assert 1 < measured.rss_mb < 500
