"""Reading and checking a CSV file a piece at a time gives exactly what the whole file gives.

``tce validate`` without a store reads large CSV files in pieces (tce_cli.read._pieces) and
checks each piece on its own, the two cross-row rules at the end. These tests shrink the
pieces to a few kilobytes, so the example files and hand-made awkward files are cut in many
places (inside quoted values, among blank rows, before the last column holding data), and
compare the result with the whole-file route: the same frame, the same ReadInfo, the same
findings, completeness, rejected rows and period.
"""

from __future__ import annotations

import os
import random
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from _robust import EXAMPLES, MAPPINGS
from tce_cli.checks import rows as row_rules
from tce_cli.mapping import load_mapping
from tce_cli.periods import Period, parse_period
from tce_cli.pipeline import FileResult, check_file, mapping_chooser
from tce_cli.read import ROW_COLUMN, _chunks, read_pieces, read_table
from test_robust_fuzz import CSV_MUTATIONS

TODAY = date(2026, 11, 26)
BOLTON = next((EXAMPLES / "2026-27Q2").glob("bolton_*.csv"))
MUTANTS = int(os.environ.get("TCE_PIECE_MUTANTS", "8"))  # more by hand: TCE_PIECE_MUTANTS=200


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces of 2 KB: a few records each, so every file is cut many times."""
    monkeypatch.setattr(_chunks, "CHUNK", 2048)


def _read_same(path: Path, **options: object) -> None:
    """The pieces give the whole read's non-blank data rows and the same ReadInfo."""
    whole = read_table(path, **options)  # type: ignore[arg-type]
    pieces = read_pieces(path, **options)  # type: ignore[arg-type]
    assert pieces is not None, "expected the file to be read in pieces"
    frames = list(pieces.frames())
    info = pieces.info()
    assert info == whole.info
    blank = pl.Series(whole.info.blank_rows, dtype=pl.Int64)
    want = whole.frame.filter(~pl.col(ROW_COLUMN).is_in(blank.implode()))
    got = pl.concat(frames).select(ROW_COLUMN, *info.columns)
    assert got.equals(want)


def _check_same(path: Path, mapping: Path, period: Period | None) -> FileResult:
    """check_file in pieces gives the whole route's result; returns the pieces' result."""
    m = load_mapping(mapping)
    whole = check_file(path, mapping=m, period=period, today=TODAY)
    pieces = check_file(path, mapping=m, period=period, today=TODAY, keep_rows=False)
    assert pieces.findings.equals(whole.findings)
    assert pieces.info == whole.info
    assert pieces.completeness() == whole.completeness()
    assert pieces.rejected_rows().equals(whole.rejected_rows())
    assert (pieces.period, pieces.period_inferred) == (whole.period, whole.period_inferred)
    return pieces


def _bolton(tmp_path: Path, edit: str = "", *, name: str = BOLTON.name) -> Path:
    """The Bolton example as text, edited by ``edit`` (a few named changes), saved as UTF-8."""
    lines = BOLTON.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    if "title" in edit:
        header = "Complex safeguarding extract,,\nRun on 12/10/2026\n\n" + header
    if "blank" in edit:
        for i in (5, 60, 61, 62, 150):
            rows.insert(i, ",,,")
        rows += ["", ",,", "   "]
    if "quoted" in edit:  # quoted notes with line breaks (and commas) every few rows
        rows = [
            r.rsplit(",", 2)[0] + ',"Seen at school,\nthen at home\r\nagain",' + r.rsplit(",", 1)[1]
            if i % 3 == 0 and r.count(",") > 2 and '"' not in r
            else r
            for i, r in enumerate(rows)
        ]
    if "ragged" in edit:
        rows[10] = rows[10] + ",extra"
        rows[70] = ",".join(rows[70].split(",")[:5])
    if "late-extra" in edit:  # a column past the header holding data only near the end
        rows[-3] = rows[-3] + ",,late value"
    if "padded" in edit:
        rows = [" " + r.replace(",", " , ", 3) + " " for r in rows]
    if "duplicates" in edit:  # record ids and episodes repeated in other pieces
        rows += [rows[1], rows[2], rows[100]]
        rows[150] = rows[3]
    text = "\n".join([header, *rows]) + "\n"
    if "cr" in edit:
        text = text.replace("\n", "\r")
    data = text.encode("utf-8")
    if "bom" in edit:
        data = b"\xef\xbb\xbf" * (2 if "double-bom" in edit else 1) + data
    path = tmp_path / name
    path.write_bytes(data)
    return path


BOLTON_MAPPING = MAPPINGS / "bolton-csc.yaml"
EDITS = [
    "",
    "title",
    "blank",
    "quoted",
    "ragged",
    "late-extra",
    "padded",
    "cr",
    "bom",
    "double-bom",
]


@pytest.mark.parametrize("edit", EDITS)
def test_pieces_read_as_the_whole_file(tmp_path: Path, edit: str) -> None:
    _read_same(_bolton(tmp_path, edit))


def test_pieces_read_with_a_given_header_row(tmp_path: Path) -> None:
    _read_same(_bolton(tmp_path, "title blank"), header_row=4)


def test_pieces_count_line_breaks_inside_values_with_mixed_endings(tmp_path: Path) -> None:
    path = _bolton(tmp_path, "quoted")
    data = path.read_bytes()
    path.write_bytes(data.replace(b"/2026\n", b"/2026\r\n", 40))  # CRLF rows among LF ones
    _read_same(path)
    assert read_table(path).info.line_endings == "mixed"


@pytest.mark.parametrize("edit", [*EDITS, "title blank quoted ragged late-extra duplicates"])
def test_pieces_check_as_the_whole_file(tmp_path: Path, edit: str) -> None:
    result = _check_same(_bolton(tmp_path, edit), BOLTON_MAPPING, parse_period("2026-27 Q2"))
    assert result.mapped is None  # really checked in pieces


def test_duplicates_across_pieces_are_found(tmp_path: Path) -> None:
    result = _check_same(_bolton(tmp_path, "duplicates"), BOLTON_MAPPING, None)
    codes = result.findings["code"].to_list()
    assert codes.count("duplicate-record-id") >= 4
    last = result.info.header_row + result.info.n_rows
    repeated = result.findings.filter(pl.col("code") == "duplicate-record-id")["source_row"]
    assert last in repeated.to_list()  # the copy at the end repeats a row pieces earlier


def test_period_inferred_from_a_past_quarter_rechecks(tmp_path: Path) -> None:
    """Extract dates in an earlier quarter than today's suggests: the pieces are checked
    again with the right quarter (ages and date rules depend on it)."""
    path = _bolton(tmp_path)
    path.write_text(path.read_text().replace("/10/2026", "/01/2026"))
    result = _check_same(path, BOLTON_MAPPING, None)
    assert result.period_inferred and result.period.label == "2025-26 Q3"


LATEST = sorted(EXAMPLES.iterdir())[-1]


@pytest.mark.parametrize("path", sorted(p for p in LATEST.iterdir() if p.suffix != ".xlsx"))
def test_example_files_check_the_same_in_pieces(path: Path) -> None:
    mapping, _ = mapping_chooser(None, MAPPINGS)(path)
    m = load_mapping(mapping)
    pieces = check_file(path, mapping=m, period=None, today=TODAY, keep_rows=False)
    whole = check_file(path, mapping=m, period=None, today=TODAY)
    assert pieces.findings.equals(whole.findings)
    assert pieces.info == whole.info
    assert pieces.completeness() == whole.completeness()


def test_mutated_files_check_the_same_in_pieces(tmp_path: Path) -> None:
    """Byte flips, stray quotes and delimiters, deleted or repeated lines, other encodings:
    whatever the pieces cannot read exactly is read whole, and the results agree."""
    rng = random.Random(int(os.environ.get("TCE_PIECE_SEED", "11")))
    base = BOLTON.read_bytes()
    compared = pieced = 0
    for i in range(MUTANTS):
        data = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            rng.choice([m for m in CSV_MUTATIONS if m.__name__ != "_truncate"])(rng, data)
        path = tmp_path / f"bolton_{i}.csv"
        path.write_bytes(bytes(data))
        try:
            read_table(path)
        except Exception:  # unreadable either way: the CLI reports it (test_robust_fuzz)
            continue
        pieced += _check_same(path, BOLTON_MAPPING, None).mapped is None
        compared += 1
    assert compared >= MUTANTS // 2 and pieced >= 1


def test_a_field_reading_a_column_the_whole_read_drops_falls_back(tmp_path: Path) -> None:
    """A mapping that picks an unnamed column with no data: the pieces carry it, a whole
    read drops it, so the file is checked whole instead, with the same result."""
    path = _bolton(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0] + ",", *(r + "," for r in lines[1:])]) + "\n")
    mapping = tmp_path / "m.yaml"
    text = BOLTON_MAPPING.read_text()
    assert "    column: Disability\n" in text
    mapping.write_text(text.replace("    column: Disability\n", '    pattern: "^\\\\(blank"\n'))
    m = load_mapping(mapping)
    whole = check_file(path, mapping=m, period=None, today=TODAY)
    pieces = check_file(path, mapping=m, period=None, today=TODAY, keep_rows=False)
    assert pieces.mapped is not None  # read whole after all
    assert "disability" in whole.resolution.missing
    assert pieces.findings.equals(whole.findings)
    assert pieces.info == whole.info


def test_small_or_converted_files_are_read_whole(tmp_path: Path) -> None:
    small = tmp_path / "small.csv"
    small.write_text("a,b\n1,2\n")
    assert read_pieces(small) is None
    cp1252 = tmp_path / "cp1252.csv"
    cp1252.write_bytes(BOLTON.read_text().replace("Wilson", "Wilsón").encode("cp1252"))
    assert read_pieces(cp1252) is None
    assert (
        check_file(
            cp1252, mapping=load_mapping(BOLTON_MAPPING), period=None, today=TODAY, keep_rows=False
        ).mapped
        is not None
    )


# --- repeated keys: exact whatever the hash ----------------------------------------------------


def _repeats_directly(frame: pl.DataFrame) -> pl.Series:
    key = pl.struct("a", "b")
    counts = pl.col("a").is_not_null() & pl.col("b").is_not_null()
    return frame.select(counts & ~key.is_first_distinct()).to_series()


@pytest.mark.parametrize("bits", [64, 2])
def test_repeats_are_exact_even_when_hashes_clash(
    monkeypatch: pytest.MonkeyPatch, bits: int
) -> None:
    """With a 2-bit hash nearly every pair of keys clashes: the keys sharing a hash are
    compared, so only real repeats are flagged."""
    if bits < 64:
        real = pl.DataFrame.hash_rows

        def clashing(self: pl.DataFrame, seed: int = 0) -> pl.Series:
            return real(self, seed=seed) % (1 << bits)

        monkeypatch.setattr(pl.DataFrame, "hash_rows", clashing)
    rng = random.Random(bits)
    n = 2_000
    frame = pl.DataFrame(
        {
            "a": [rng.choice(["x", "y", "z", None]) for _ in range(n)],
            "b": [rng.choice([None, *range(300)]) for _ in range(n)],
        }
    )
    counts = pl.col("a").is_not_null() & pl.col("b").is_not_null()
    got = row_rules._repeats(frame.select("a", "b", counts.alias("_counts")), n)
    assert got.to_list() == _repeats_directly(frame).to_list()
    assert 0 < got.sum() < n
