"""The synthetic agency exports in examples/ and their mappings in mappings/.

Every mapping loads; every example file matches exactly one mapping; the generator is
deterministic and the committed files are what it writes; only NHS numbers from the 999 test
range appear; and tce finds exactly the findings the generator planted
(examples/expected_findings.json).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from openpyxl import load_workbook

from tce_cli.mapping import Mapping, load_mapping, load_mappings, match_mapping
from tce_cli.pipeline import FileResult, check_file

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATA = EXAMPLES / "data"
MAPPINGS = ROOT / "mappings"
EXPORT_SUFFIXES = (".csv", ".txt", ".xlsx")
PERIODS = ("2025-26Q3", "2025-26Q4", "2026-27Q1", "2026-27Q2")
# Ten digits written as one run or 3-3-4 with spaces or hyphens: anything that looks like an
# NHS number. Other ids in the examples are never ten digits long.
NHS_LIKE = re.compile(r"(?<![\d.])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\d.])")


def export_files(folder: Path = DATA) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXPORT_SUFFIXES)


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


FILES = export_files()
MAPPING_FILES = sorted(MAPPINGS.glob("*.yaml"))


@pytest.fixture(scope="module")
def mappings() -> list[tuple[Path, Mapping]]:
    return load_mappings(MAPPINGS)


@pytest.mark.parametrize("path", MAPPING_FILES, ids=lambda p: p.name)
def test_every_mapping_loads(path: Path) -> None:
    mapping = load_mapping(path)
    assert mapping.agency.id == path.stem
    assert mapping.options.allow_test_nhs_numbers


def test_six_agencies_four_quarters() -> None:
    assert len(MAPPING_FILES) == 6
    assert sorted(p.name for p in DATA.iterdir() if p.is_dir()) == list(PERIODS)
    for period in PERIODS:
        assert len(export_files(DATA / period)) == 6, period
        assert all(period in p.name for p in export_files(DATA / period))


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_each_example_matches_exactly_one_mapping(
    path: Path, mappings: list[tuple[Path, Mapping]]
) -> None:
    mapping_path, _ = match_mapping(path, mappings)  # raises unless exactly one matches
    assert mapping_path.parent == MAPPINGS


def test_each_mapping_matches_one_file_per_quarter(mappings: list[tuple[Path, Mapping]]) -> None:
    matched: dict[str, list[str]] = {}
    for path in FILES:
        mapping_path, _ = match_mapping(path, mappings)
        matched.setdefault(mapping_path.name, []).append(path.parent.name)
    assert {name: sorted(periods) for name, periods in matched.items()} == {
        p.name: list(PERIODS) for p in MAPPING_FILES
    }


# --------------------------------------------------------------------------- determinism


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Run the generator twice, at once, under different string-hash seeds."""
    outs = (tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second"))
    runs = [
        subprocess.Popen(
            [sys.executable, str(EXAMPLES / "generate.py"), "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        for out, seed in zip(outs, ("1", "2"), strict=True)
    ]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err.decode(errors="replace")
    return outs


def _workbook_cells(path: Path) -> list[tuple[str, str, list[tuple[Any, ...]]]]:
    wb = load_workbook(path)
    return [
        (ws.title, ws.sheet_state, [tuple(row) for row in ws.iter_rows(values_only=True)])
        for ws in wb.worksheets
    ]


def _same_content(a: Path, b: Path) -> bool:
    if a.suffix == ".xlsx":
        return _workbook_cells(a) == _workbook_cells(b)
    return a.read_bytes() == b.read_bytes()


def test_generator_twice_gives_identical_files(two_runs: tuple[Path, Path]) -> None:
    first, second = two_runs
    names = [p.relative_to(first) for p in export_files(first)]
    assert names == [p.relative_to(second) for p in export_files(second)]
    assert len(names) == 24
    for name in names:
        assert _same_content(first / name, second / name), name
    assert (first / "expected_findings.json").read_text() == (
        second / "expected_findings.json"
    ).read_text()


def test_committed_examples_are_what_the_generator_writes(two_runs: tuple[Path, Path]) -> None:
    fresh = two_runs[0]
    assert [p.relative_to(DATA) for p in FILES] == [
        p.relative_to(fresh) for p in export_files(fresh)
    ]
    stale = [_id(p) for p in FILES if not _same_content(p, fresh / p.relative_to(DATA))]
    assert not stale, f"run `python examples/generate.py` to refresh: {stale}"
    committed = json.loads((EXAMPLES / "expected_findings.json").read_text())
    assert committed == json.loads((fresh / "expected_findings.json").read_text())


# --------------------------------------------------------------------------- NHS numbers


def _text_of(path: Path) -> str:
    if path.suffix == ".xlsx":
        return "\n".join(
            "\t".join("" if v is None else str(v) for v in row)
            for _, _, rows in _workbook_cells(path)
            for row in rows
        )
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_only_test_range_nhs_numbers_appear(path: Path) -> None:
    found = NHS_LIKE.findall(_text_of(path))
    assert found, "expected some NHS numbers in every example"
    outside = [n for n in found if not re.sub(r"[ -]", "", n).startswith("999")]
    assert not outside, f"{len(outside)} ten-digit numbers outside the 999 test range"


# --------------------------------------------------------------------------- findings


@pytest.fixture(scope="module")
def results(mappings: list[tuple[Path, Mapping]]) -> dict[str, FileResult]:
    out = {}
    for path in FILES:
        mapping_path, mapping = match_mapping(path, mappings)
        out[_id(path)] = check_file(
            path,
            mapping=mapping,
            mapping_path=mapping_path,
            period=None,
            today=date(2026, 11, 25),
        )
    return out


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_nhs_numbers_read_by_tce_are_test_numbers(
    path: Path, results: dict[str, FileResult]
) -> None:
    nhs = results[_id(path)].mapped["nhs_number"].drop_nulls()
    assert nhs.len() > 0
    assert nhs.str.starts_with("999").all()


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_tce_finds_exactly_the_planted_defects(path: Path, results: dict[str, FileResult]) -> None:
    expected = json.loads((EXAMPLES / "expected_findings.json").read_text())
    result = results[_id(path)]
    assert result.period.label.replace(" ", "") == path.parent.name
    assert result.counts_by_code() == expected[_id(path)]


def test_most_rows_are_clean(results: dict[str, FileResult]) -> None:
    for key, result in results.items():
        rows = result.mapped.height
        assert 150 <= rows <= 400, key
        with_findings = result.findings.filter(
            pl.col("source_row").is_not_null() & (pl.col("code") != "age-18-plus")
        )["source_row"].n_unique()
        assert with_findings / rows < 0.15, key
