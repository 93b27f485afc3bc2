"""Readers: CSV and XLSX files into text frames with Excel row numbers (tce_cli.read)."""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED
from tce_cli.errors import ConfigError, InputFileError, TceError
from tce_cli.read import RawTable, _chunks, _lines, _sniff, read_table, sheet_names

SPECTRUM = SHARED / "corpora" / "csv-spectrum"
CSVLINT = SHARED / "corpora" / "csvlint"
needs_corpora = pytest.mark.skipif(not SPECTRUM.is_dir(), reason="shared corpora not present")


def write(tmp_path: Path, data: bytes | str, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def values(table: RawTable) -> list[dict[str, str | None]]:
    """Data rows without the row number, as dicts."""
    return table.frame.drop("_row").to_dicts()


# --- corpora -------------------------------------------------------------------------------


@needs_corpora
@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (SPECTRUM / "csvs").glob("*.csv")) or ["none"]
)
def test_csv_spectrum_reads_exactly_as_its_json(name: str) -> None:
    table = read_table(SPECTRUM / "csvs" / f"{name}.csv")
    expected = json.loads((SPECTRUM / "json" / f"{name}.json").read_text(encoding="utf-8"))
    got = [{k: v if v is not None else "" for k, v in row.items()} for row in values(table)]
    assert got == expected
    assert table.frame["_row"].to_list() == list(range(2, 2 + len(expected)))


@needs_corpora
@pytest.mark.parametrize("name", sorted(p.name for p in CSVLINT.glob("*")) or ["none"])
def test_csvlint_files_read_or_raise_input_file_error(name: str) -> None:
    try:
        table = read_table(CSVLINT / name)
    except InputFileError as exc:
        assert exc.hint
        return
    assert table.info.n_rows >= 0 and table.info.columns


@needs_corpora
@pytest.mark.parametrize(
    ("name", "endings"),
    [
        ("lf-line-endings.csv", "LF"),
        ("crlf-line-endings.csv", "CRLF"),
        ("cr-line-endings.csv", "CR"),
        ("inconsistent-line-endings.csv", "mixed"),
        ("inconsistent-line-endings-unquoted.csv", "mixed"),
    ],
)
def test_csvlint_line_endings(name: str, endings: str) -> None:
    table = read_table(CSVLINT / name)
    assert table.info.line_endings == endings
    assert values(table)[-1] == {"Foo": "Qux", table.info.columns[1]: "Teaspoon", "Baz": "Doge"}
    assert table.frame["_row"].to_list() == [2, 3]


@needs_corpora
def test_csvlint_windows_line_endings() -> None:
    table = read_table(CSVLINT / "windows-line-endings.csv")
    assert table.info.line_endings == "CRLF"
    assert values(table) == [{"a": "d", "b": "e", "c": "f"}]


@needs_corpora
def test_csvlint_title_row_is_skipped() -> None:
    table = read_table(CSVLINT / "title-row.csv")
    assert table.info.header_row == 2
    assert table.info.columns == ("Foo", "Bsr", "Baz")
    assert table.frame["_row"].to_list() == [3, 4]


@needs_corpora
def test_csvlint_latin1_bank_export_is_windows_1252() -> None:
    table = read_table(CSVLINT / "invalid-byte-sequence.csv")
    info = table.info
    assert (info.encoding, info.line_endings, info.n_rows) == ("windows-1252", "CRLF", 23)
    assert "Histórico" in info.columns and "Número do documento" in info.columns
    assert info.blank_headers == (7,)  # a trailing comma on every line: no data, not kept
    assert len(info.columns) == 6 and info.ragged_rows == ()
    assert table.frame["Histórico"][1].startswith("Transferência on line")


@needs_corpora
def test_csvlint_workbooks() -> None:
    with pytest.raises(InputFileError, match="legacy Excel .xls"):
        read_table(CSVLINT / "spreadsheet.xls")
    table = read_table(CSVLINT / "spreadsheet.xlsx")
    assert (table.info.format, table.info.sheet, table.info.columns) == (
        "xlsx",
        "Sheet1",
        ("a", "b", "c"),
    )
    assert table.info.n_rows == 0


# --- a realistic agency export ------------------------------------------------------------


def test_bolton_export_with_title_rows(fixtures: Path) -> None:
    table = read_table(fixtures / "read" / "bolton_return.csv")
    info = table.info
    assert (info.format, info.encoding, info.delimiter, info.line_endings) == (
        "csv",
        "windows-1252",
        ",",
        "CRLF",
    )
    assert info.header_row == 4
    assert info.columns[:3] == ("Child ID", "NHS No", "DOB")
    assert table.frame["_row"].to_list() == [5, 6, 7, 8]
    assert info.blank_rows == (7,)
    first, second = values(table)[:2]
    assert first["Child ID"] == "00123"  # leading zeros kept
    assert first["Case Notes"] == "Seen at school,\r\nreferred by Café Nero staff"
    assert second["Postcode"] == "BL2 2BB" and second["NHS No"] is None
    assert second["Case Notes"] == "£20 found"
    expected = {"_row": pl.Int64} | dict.fromkeys(info.columns, pl.String)
    assert table.frame.schema == pl.Schema(expected)


def test_explicit_header_row_overrides_detection(fixtures: Path) -> None:
    table = read_table(fixtures / "read" / "bolton_return.csv", header_row=1)
    assert table.info.header_row == 1
    assert table.info.columns[0] == "Bolton Complex Safeguarding return"
    assert table.frame["_row"][0] == 2


def test_ragged_rows_keep_every_cell(fixtures: Path) -> None:
    table = read_table(fixtures / "read" / "ragged.csv")
    info = table.info
    assert info.columns == (
        *("Name", "Name (2)", "(blank column 3)", "DOB", "Notes"),
        "(extra column 6)",
    )
    assert info.original_headers == ("Name", "Name", "", "DOB", "Notes")
    assert info.duplicate_headers == ("Name",)
    assert info.blank_headers == (3,)
    # row 3 is short, row 4 has an extra cell, row 7 ends with an empty extra cell
    assert info.ragged_rows == ((3, 4), (4, 6), (7, 6))
    assert info.blank_rows == (5,)
    rows = {r["_row"]: r for r in table.frame.to_dicts()}
    assert rows[4]["(extra column 6)"] == "EXTRA" and rows[4]["Notes"] == "late"
    assert rows[3]["Notes"] is None
    assert rows[6]["Notes"] == "two\nlines"
    assert rows[2]["(blank column 3)"] == "x1"
    assert sorted(rows) == [2, 3, 4, 5, 6, 7]  # the two trailing blank lines are dropped


def test_semicolon_file_with_bom_and_decimal_commas(fixtures: Path) -> None:
    table = read_table(fixtures / "read" / "semicolon.csv")
    assert (table.info.encoding, table.info.delimiter) == ("utf-8-sig", ";")
    assert values(table) == [
        {"Child ID": "C1", "Age": "6,5", "Risk score": "1,25", "Town": "Bolton"},
        {"Child ID": "C2", "Age": "12", "Risk score": "0,5", "Town": "Wigan; Leigh"},
    ]


# --- encodings ----------------------------------------------------------------------------


def test_invalid_utf8_deep_in_a_big_file_means_windows_1252(tmp_path: Path) -> None:
    body = "id,town\n" + "".join(f"{i},Bolton\n" for i in range(20_000))
    path = write(tmp_path, body.encode() + "99,Bury St Edmunds café\n".encode("cp1252"))
    table = read_table(path)
    assert table.info.encoding == "windows-1252"
    assert table.frame["town"][-1] == "Bury St Edmunds café"


def test_bytes_undefined_in_windows_1252_fall_back_to_latin_1(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, b"id,name\n1,caf\xe9\x81\n"))
    assert table.info.encoding == "latin-1"
    assert table.frame["name"][0] == "café\x81"


def test_utf8_and_utf16_are_detected(tmp_path: Path) -> None:
    assert read_table(write(tmp_path, "id,name\n1,Zoë\n")).info.encoding == "utf-8"
    utf16 = read_table(write(tmp_path, "id\tname\r\n1\tZoë\r\n".encode("utf-16"), "u.txt"))
    assert (utf16.info.encoding, utf16.info.delimiter) == ("utf-16", "\t")
    assert values(utf16) == [{"id": "1", "name": "Zoë"}]


def test_explicit_encoding_that_does_not_fit_names_offset_and_hint(tmp_path: Path) -> None:
    path = write(tmp_path, b"id,name\n1,ok\n2,caf\xe9\n")
    with pytest.raises(InputFileError) as err:
        read_table(path, encoding="utf-8")
    assert "offset 18" in err.value.message and "line 3" in err.value.message
    assert "--encoding windows-1252" in err.value.hint
    with pytest.raises(InputFileError) as err:
        read_table(write(tmp_path, b"id\n\x81\n", "undefined.csv"), encoding="windows-1252")
    assert "--encoding utf-8" in err.value.hint
    assert read_table(path, encoding="cp1252").frame["name"][1] == "café"


def test_unknown_encoding_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Unknown encoding"):
        read_table(write(tmp_path, "a\n1\n"), encoding="klingon")


# --- delimiters, quoting, line endings ----------------------------------------------------


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delim: str) -> None:
    text = delim.join(["id", "sex", "notes"]) + "\n"
    text += delim.join(["1", "M", '"a, b; c| d\te"']) + "\n"
    text += delim.join(["2", "F", "x"]) + "\n"
    table = read_table(write(tmp_path, text))
    assert table.info.delimiter == delim
    assert values(table)[0] == {"id": "1", "sex": "M", "notes": "a, b; c| d\te"}


def test_explicit_delimiter_and_tab_alias(tmp_path: Path) -> None:
    path = write(tmp_path, "a;b\tc\n1;2\t3\n")
    assert read_table(path, delimiter=";").info.columns == ("a", "b\tc")
    assert read_table(path, delimiter="tab").info.columns == ("a;b", "c")
    with pytest.raises(ConfigError):
        read_table(path, delimiter=";;")


def test_excel_style_crlf_file_with_line_breaks_in_cells_is_crlf(tmp_path: Path) -> None:
    path = write(tmp_path, b'id,notes\r\n1,"line one\nline two"\r\n2,plain\r\n')
    table = read_table(path)
    assert table.info.line_endings == "CRLF"
    assert values(table) == [
        {"id": "1", "notes": "line one\nline two"},
        {"id": "2", "notes": "plain"},
    ]
    assert table.frame["_row"].to_list() == [2, 3]


def test_cr_only_file_keeps_line_breaks_inside_quotes(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, b'id,notes\r1,"a\rb"\r2,c\r'))
    assert table.info.line_endings == "CR"
    assert table.frame["notes"].to_list() == ["a\rb", "c"]


def test_bare_cr_rows_among_lf_rows_are_split(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, b'id,notes\n1,"x\ry"\r2,z\n3,w\n'))
    assert table.info.line_endings == "mixed"
    assert table.frame["notes"].to_list() == ["x\ry", "z", "w"]
    assert table.frame["_row"].to_list() == [2, 3, 4]


def test_rows_after_a_quoted_line_break_keep_excel_numbers(tmp_path: Path) -> None:
    text = 'id,notes\n1,"a\n\nb"\n2,c\n3,"d\ne",extra\n4,f\n'
    table = read_table(write(tmp_path, text))
    assert table.frame["_row"].to_list() == [2, 3, 4, 5]
    assert table.info.ragged_rows == ((4, 3),)
    assert table.frame["(extra column 3)"].to_list() == [None, None, "extra", None]


def test_malformed_quotes_are_read_leniently_like_excel(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, 'id,size\n1,"4"z\n2,"x" ,3\n'))
    assert values(table) == [
        {"id": "1", "size": "4z", "(extra column 3)": None},
        {"id": "2", "size": "x", "(extra column 3)": "3"},
    ]
    assert table.info.ragged_rows == ((3, 3),)


def test_quotes_inside_unquoted_values_are_ordinary_characters(tmp_path: Path) -> None:
    # SQL Server bcp-style export: nothing is quoted, so quotes are plain text
    table = read_table(write(tmp_path, 'id,size,notes\n1,5" screen,said "hi", ok\n2,x,y\n'))
    assert table.info.ragged_rows == ((2, 4),)
    assert values(table)[0] == {
        "id": "1",
        "size": '5" screen',
        "notes": 'said "hi"',
        "(extra column 4)": "ok",
    }


def test_a_stray_quote_in_a_quoted_file_does_not_swallow_rows(tmp_path: Path) -> None:
    text = 'id,notes,tv\n1,"x, y",5" set\n2,"p",q\n3,r,s\n'
    table = read_table(write(tmp_path, text))
    assert table.frame["_row"].to_list() == [2, 3, 4]
    assert values(table) == [
        {"id": "1", "notes": "x, y", "tv": '5" set'},
        {"id": "2", "notes": "p", "tv": "q"},
        {"id": "3", "notes": "r", "tv": "s"},
    ]
    assert table.info.ragged_rows == ()


def test_unclosed_quote_is_an_error_naming_the_row(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="row 3 is never closed"):
        read_table(write(tmp_path, 'id,notes\n1,ok\n2,"never closed\n3,x\n'))


def test_cells_are_stripped_and_empty_cells_are_null(tmp_path: Path) -> None:
    text = 'id,name,code\n 1 ,"  Ann\u00a0",""\n2,Bob,   \n003,\tCy,x\n'
    table = read_table(write(tmp_path, text))
    assert values(table) == [
        {"id": "1", "name": "Ann", "code": None},
        {"id": "2", "name": "Bob", "code": None},
        {"id": "003", "name": "Cy", "code": "x"},
    ]


def test_nul_bytes_are_removed(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, b"id,name\n1,A\x00nn\n"))
    assert table.frame["name"].to_list() == ["Ann"]


def test_blank_rows_stay_in_the_frame_and_are_listed(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, "a,b\n1,2\n\n,\n3,4\n\n\n"))
    assert table.frame["_row"].to_list() == [2, 3, 4, 5]
    assert table.info.blank_rows == (3, 4)
    assert table.info.ragged_rows == ()  # blank rows are reported as blank only
    assert table.info.n_rows == 4


def test_duplicate_header_names_never_collide(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, "Name,Name,Name (2),_row\n1,2,3,4\n"))
    assert table.info.columns == ("Name", "Name (2)", "Name (2) (2)", "_row (2)")
    assert table.info.duplicate_headers == ("Name",)


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, "id,name\r\n"))
    assert (table.info.n_rows, table.info.columns) == (0, ("id", "name"))
    assert table.frame.columns == ["_row", "id", "name"]


def test_unknown_extension_with_text_is_read_as_csv(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, "id|name\n1|Ann\n", "export.dat"))
    assert (table.info.format, table.info.delimiter) == ("csv", "|")


def test_a_very_long_row_means_a_wrong_delimiter(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="more than Excel's"):
        read_table(write(tmp_path, "a,b\n" + ",".join("x" * 20_000) + "\n"))


def test_large_file_with_a_ragged_row_deep_inside(tmp_path: Path) -> None:
    lines = ["id,a,b,c"] + [f"{i},x,y,z" for i in range(30_000)]
    lines[25_000] = "bad,x,y"
    lines[27_000] = 'q,"x,\ny",z,w,extra'
    table = read_table(write(tmp_path, "\n".join(lines) + "\n"))
    assert table.info.ragged_rows == ((25_001, 3), (27_001, 5))
    assert table.info.n_rows == 30_000
    assert table.frame.filter(pl.col("_row") == 27_001)["a"].item() == "x,\ny"
    # one chunk per column: mixed chunking crashes some Polars 2.1 streaming queries, and
    # the mapping runs faster and in less memory on one chunk (1M rows: 6.2 s against 8.3 s)
    assert {table.frame[c].n_chunks() for c in table.frame.columns} == {1}


def test_a_row_much_wider_than_the_first_rows_keeps_its_cells(tmp_path: Path) -> None:
    lines = ["id,a,b"] + [f"{i},x,y" for i in range(15_000)]  # the sniffed sample: 3 cells
    lines[12_000] = "wide," + ",".join(f"v{i}" for i in range(2, 16))
    table = read_table(write(tmp_path, "\n".join(lines) + "\n"))
    assert table.info.ragged_rows == ((12_001, 15),)
    wide = table.frame.filter(pl.col("_row") == 12_001).to_dicts()[0]
    assert wide["(extra column 15)"] == "v15" and wide["b"] == "v3"


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"   \r\n\t\n", b"\xef\xbb\xbf\r\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(InputFileError, match="is empty"):
        read_table(write(tmp_path, content))


def test_file_of_empty_cells_has_no_data(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no data"):
        read_table(write(tmp_path, ",,\n,,\n"))


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(InputFileError, match="is a folder"):
        read_table(tmp_path)


def test_binary_content_is_not_a_text_csv(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not a text CSV") as err:
        read_table(write(tmp_path, bytes(range(256)) * 8))
    assert err.value.hint


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "notes.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    with pytest.raises(InputFileError, match="not an Excel workbook"):
        read_table(path)


def test_corrupt_workbook(tmp_path: Path) -> None:
    good = _workbook(tmp_path, [["a", "b"], [1, 2]])
    broken = write(tmp_path, good.read_bytes()[:300], "broken.xlsx")
    with pytest.raises(InputFileError, match="not a readable Excel workbook"):
        read_table(broken)
    with pytest.raises(InputFileError, match="not a readable Excel workbook"):
        read_table(write(tmp_path, "a,b\n1,2\n"), format="xlsx")


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "a\n1\n")
    with pytest.raises(ConfigError):
        read_table(path, header_row=0)
    with pytest.raises(InputFileError, match="past the last row"):
        read_table(path, header_row=9)


# --- round trip against Python's csv module -----------------------------------------------

_CELL = st.text(alphabet=st.sampled_from(list('ab ,;"\n\r\té0')), max_size=6)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(1, 4),
    rows=st.lists(st.lists(_CELL, min_size=1, max_size=6), max_size=6),
    crlf=st.booleans(),
    quote_all=st.booleans(),
)
def test_any_table_written_by_python_csv_reads_back(
    tmp_path_factory: pytest.TempPathFactory,
    width: int,
    rows: list[list[str]],
    crlf: bool,
    quote_all: bool,
) -> None:
    header = [f"h{i}" for i in range(width)]
    if not crlf:  # the writer quotes only the line terminator's characters: a bare CR
        rows = [[v.replace("\r", "") for v in row] for row in rows]  # would end a row
    buf = io.StringIO()
    quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    writer = csv.writer(buf, lineterminator="\r\n" if crlf else "\n", quoting=quoting)
    writer.writerows([header, *rows])
    path = tmp_path_factory.mktemp("rt") / "t.csv"
    path.write_bytes(buf.getvalue().encode("utf-8"))
    table = read_table(path, header_row=1, delimiter=",")

    cleaned = [[v.strip() or None for v in row] for row in rows]
    while cleaned and all(v is None for v in cleaned[-1]):
        cleaned.pop()
    by_row = {r["_row"]: r for r in table.frame.to_dicts()}
    assert sorted(by_row) == list(range(2, 2 + len(cleaned)))
    for number, (raw, cells) in enumerate(zip(rows, cleaned, strict=False), start=2):
        got = by_row[number]
        names = [*header, *(f"(extra column {i + 1})" for i in range(width, len(cells)))]
        assert [got.get(n) for n in names[: len(cells)]] == cells
        assert all(got.get(n) is None for n in names[len(cells) :])
        blank = all(v is None for v in cells)
        assert ((number, len(raw)) in table.info.ragged_rows) == (len(raw) != width and not blank)


_PLAIN = st.text(alphabet=st.sampled_from(list('ab "x')), max_size=5).filter(
    lambda v: not v.startswith('"')
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(1, 4),
    rows=st.lists(st.lists(_PLAIN, min_size=1, max_size=6), min_size=1, max_size=6),
    quoted=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=3),
)
def test_stray_quotes_read_as_excel_reads_them(
    tmp_path_factory: pytest.TempPathFactory,
    width: int,
    rows: list[list[str]],
    quoted: list[tuple[int, int]],
) -> None:
    for r, c in quoted:  # some properly quoted cells among the stray quotes
        if r < len(rows) and c < len(rows[r]):
            rows[r][c] = '"a,""b"""'
    text = "\n".join([",".join(f"h{i}" for i in range(width)), *map(",".join, rows)]) + "\n"
    path = tmp_path_factory.mktemp("sq") / "t.csv"
    path.write_text(text)
    table = read_table(path, header_row=1, delimiter=",")

    parsed = list(csv.reader(io.StringIO(text, newline="")))[1:]
    cleaned = [[v.strip() or None for v in row] for row in parsed]
    while cleaned and all(v is None for v in cleaned[-1]):
        cleaned.pop()
    assert table.frame["_row"].to_list() == list(range(2, 2 + len(cleaned)))
    expected = [
        (n, len(raw))
        for n, (raw, cells) in enumerate(zip(parsed, cleaned, strict=False), start=2)
        if len(raw) != width and any(v is not None for v in cells)
    ]
    assert list(table.info.ragged_rows) == expected
    for got, cells in zip(table.frame.to_dicts(), cleaned, strict=True):
        names = [f"h{j}" if j < width else f"(extra column {j + 1})" for j in range(len(cells))]
        assert [got.get(name) for name in names] == cells


_BYTES = st.sampled_from(
    [b"a", b",", b";", b"\t", b'"', b'""', b"\n", b"\r", b" ", b"\x00", b"\xe9", b"\xff", b"1"]
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chunks=st.lists(_BYTES, max_size=40),
    options=st.sampled_from([{}, {"header_row": 2}, {"encoding": "utf-8"}, {"delimiter": ";"}]),
)
def test_any_bytes_read_or_give_a_tce_error(
    tmp_path_factory: pytest.TempPathFactory, chunks: list[bytes], options: dict[str, object]
) -> None:
    path = tmp_path_factory.mktemp("any") / "t.csv"
    path.write_bytes(b"".join(chunks))
    try:
        table = read_table(path, **options)  # type: ignore[arg-type]
    except TceError:
        return
    assert table.frame.height == table.info.n_rows
    assert table.frame.columns == ["_row", *table.info.columns]


# --- big files are read piece by piece ---------------------------------------------------

EXAMPLE_CSVS = sorted(
    p for p in (Path(__file__).parents[1] / "examples" / "data").glob("*/*") if p.suffix != ".xlsx"
)
SPECTRUM_CSVS = sorted((SPECTRUM / "csvs").glob("*.csv"))
PIECE_EXAMPLES = int(os.environ.get("TCE_PROPERTY_EXAMPLES", "150"))


def _outcome(path: Path, **options: object) -> RawTable | str:
    try:
        return read_table(path, **options)  # type: ignore[arg-type]
    except TceError as exc:
        return f"{type(exc).__name__}: {exc.message}"


def _same(whole: RawTable | str, pieced: RawTable | str) -> None:
    if isinstance(whole, str) or isinstance(pieced, str):
        assert pieced == whole
        return
    assert pieced.info == whole.info
    assert pieced.frame.equals(whole.frame)


@pytest.mark.parametrize("size", [1, 50, 4096])
@pytest.mark.parametrize(
    "path", [*EXAMPLE_CSVS[-6:], *SPECTRUM_CSVS], ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_reading_in_pieces_gives_the_same_table(
    path: Path, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _outcome(path)
    monkeypatch.setattr(_chunks, "CHUNK", size)
    _same(whole, _outcome(path))


@settings(max_examples=PIECE_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chunks=st.lists(_BYTES, max_size=60),
    size=st.integers(1, 12),
    options=st.sampled_from([{}, {"header_row": 1}, {"encoding": "utf-8"}]),
)
def test_any_bytes_read_the_same_in_pieces(
    tmp_path_factory: pytest.TempPathFactory,
    chunks: list[bytes],
    size: int,
    options: dict[str, object],
) -> None:
    path = tmp_path_factory.mktemp("pieces") / "t.csv"
    path.write_bytes(b"".join(chunks))
    whole = _outcome(path, **options)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_chunks, "CHUNK", size)
        pieced = _outcome(path, **options)
    _same(whole, pieced)


_TEXT = st.sampled_from([b"a", b",", b'"', b"\n", b"\r", b"\r\n", b" ", b"\xc3\xa9", b"\t"])


@settings(max_examples=PIECE_EXAMPLES, deadline=None)
@given(chunks=st.lists(_TEXT, min_size=1, max_size=50), size=st.integers(1, 9))
def test_line_breaks_counted_in_the_line_pass_match_the_bytes(
    chunks: list[bytes], size: int
) -> None:
    """The line pass counts CRLFs from the lengths of the lines Polars splits; a plain count
    of the bytes must agree, whatever the pieces."""
    data = b"".join(chunks)
    want = _sniff.probe_bytes(data)
    eol = "\n" if want.lf else "\r"
    got = _sniff.Probe()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_chunks, "CHUNK", size)
        _lines.read_lines(data, eol, ",", got)
    assert got == want


# --- workbooks ----------------------------------------------------------------------------


def _workbook(tmp_path: Path, rows: list[list[object]], name: str = "book.xlsx") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Data"
    for row in rows:
        ws.append(row)
    path = tmp_path / name
    wb.save(path)
    return path


def test_workbook_cells_come_out_as_excel_shows_them(tmp_path: Path) -> None:
    path = _workbook(
        tmp_path,
        [
            ["Bolton Complex Safeguarding return"],
            ["Report run on 01/10/2026"],
            [],
            ["Child ID", "NHS No", "DOB", "Opened", "Score", "Flag", "Seen", "Serial", "Notes"],
            [
                "00123",
                9434765919,
                date(2010, 3, 5),
                datetime(2026, 7, 1, 14, 30),
                2.5,
                True,
                time(9, 15),
                45123,
                "  padded ",
            ],
            [None] * 9,
            [
                "C2",
                1234567890.0,
                datetime(2011, 1, 2),
                datetime(2026, 7, 2),
                -1.0,
                False,
                None,
                45123.0,
                None,
            ],
        ],
    )
    table = read_table(path)
    info = table.info
    assert (info.format, info.sheet, info.header_row, info.encoding) == ("xlsx", "Data", 4, None)
    assert table.frame["_row"].to_list() == [5, 6, 7]
    assert info.blank_rows == (6,)
    first, _, third = values(table)
    assert first == {
        "Child ID": "00123",
        "NHS No": "9434765919",
        "DOB": "2010-03-05",
        "Opened": "2026-07-01 14:30:00",
        "Score": "2.5",
        "Flag": "true",
        "Seen": "09:15:00",
        "Serial": "45123",
        "Notes": "padded",
    }
    assert (third["NHS No"], third["DOB"], third["Opened"], third["Score"], third["Serial"]) == (
        "1234567890",
        "2011-01-02",
        "2026-07-02",
        "-1",
        "45123",
    )


def test_workbook_rows_above_and_columns_left_of_the_table(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["C3"], ws["D3"], ws["F3"] = "id", "name", None
    ws["C4"], ws["D4"], ws["E4"] = "1", "Ann", "stray"
    ws["C5"], ws["D5"] = "2", "Bob"
    ws["H9"].number_format = "0.00"  # formatted but empty: ignored
    path = tmp_path / "offset.xlsx"
    wb.save(path)
    table = read_table(path)
    assert table.info.header_row == 3
    assert table.frame["_row"].to_list() == [4, 5]
    assert table.info.columns == ("id", "name", "(blank column 3)")
    assert table.info.blank_headers == (3,)
    assert table.frame["(blank column 3)"].to_list() == ["stray", None]


def test_workbook_sheets_by_name_number_and_default(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    cover = wb.active
    assert cover is not None
    cover.title = "Cover"
    hidden = wb.create_sheet("Lookup")
    hidden.sheet_state = "hidden"
    hidden.append(["code", "label"])
    hidden.append(["CSE", "Child sexual exploitation"])
    data = wb.create_sheet("Q2 data")
    data.append(["id", "sex"])
    data.append(["1", "F"])
    path = tmp_path / "sheets.xlsx"
    wb.save(path)

    assert sheet_names(path) == ["Cover", "Lookup", "Q2 data"]
    assert read_table(path).info.sheet == "Q2 data"  # first visible sheet with data
    assert read_table(path, sheet="lookup").info.columns == ("code", "label")
    assert read_table(path, sheet=3).info.sheet == "Q2 data"
    assert read_table(path, sheet="2").info.sheet == "Lookup"
    with pytest.raises(InputFileError, match="'Cover', 'Lookup', 'Q2 data'"):
        read_table(path, sheet="Summary")
    with pytest.raises(InputFileError, match="number 0"):
        read_table(path, sheet=0)
    with pytest.raises(InputFileError, match="no data"):
        read_table(path, sheet="Cover")


def test_workbook_without_data(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    path = tmp_path / "empty.xlsx"
    wb.save(path)
    with pytest.raises(InputFileError, match="no data on any sheet"):
        read_table(path)


def test_workbook_error_cells_read_as_their_text(tmp_path: Path) -> None:
    """Calamine reads #N/A and friends as empty; tce puts their text back from the XML."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["C3"], ws["D3"], ws["E3"] = "id", "dob", "risk"
    ws["C4"], ws["D4"], ws["E4"] = "1", "#N/A", "High"
    ws["C5"], ws["D5"], ws["E5"] = "2", "2012-02-01", "#DIV/0!"
    ws["C6"], ws["D6"] = "3", "=NA()"  # a formula with no saved value: still empty
    for ref in ("D4", "E5"):
        ws[ref].data_type = "e"
    ws["H9"].number_format = "0.00"  # formatted but empty: not a column
    path = tmp_path / "errors.xlsx"
    wb.save(path)
    frame = read_table(path).frame
    assert frame["dob"].to_list() == ["#N/A", "2012-02-01", None]
    assert frame["risk"].to_list() == ["High", "#DIV/0!", None]
    assert frame["_row"].to_list() == [4, 5, 6]


def test_workbook_error_cells_that_cannot_be_placed_stay_empty(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["id", "dob"])
    ws.append(["1", "#N/A"])
    ws["B2"].data_type = "e"
    path = tmp_path / "moved.xlsx"
    wb.save(path)
    # the error cell's reference no longer matches where its value is
    with zipfile.ZipFile(path) as book:
        parts = {n: book.read(n) for n in book.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = parts[sheet].replace(b'r="B2" t="e"', b'r="A2" t="e"')
    with zipfile.ZipFile(path, "w") as book:
        for name, data in parts.items():
            book.writestr(name, data)
    assert read_table(path).frame["dob"].to_list() == [None]
