"""Helpers shared by the robustness suite (tests/test_robust_*.py).

- ``invoke`` runs a ``tce`` command in-process under a wall-clock alarm and checks the
  contract every hostile input must keep: exit 0/1 (findings) or 2 (one ``Error:`` line and a
  hint on stderr); never a traceback, never an exception escaping the command, never an
  "internal error", never a hang.
- ``hostile_csvs`` / ``hostile_workbooks`` build the bad inputs, small ones on the fly and big
  ones (10 MB cell, 5 MB file with a bad byte deep inside) in ``tmp_path``.
- ``snapshot`` hashes every file under a folder, to prove a failed write changed nothing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import signal
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from unittest import mock

import typer.testing
from typer.testing import CliRunner, Result

from tce_cli.cli import app

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLES = ROOT / "examples" / "data"
MAPPINGS = ROOT / "mappings"
MINI_MAPPING = FIXTURES / "validate" / "mini.yaml"
MINI_CSV = FIXTURES / "validate" / "mini_2026-27Q2.csv"
PERIOD = "2026-27 Q2"
FULL = os.environ.get("TCE_ROBUST_FULL") == "1"
"""Run every fault step and more examples (slow); the default is a CI-sized budget."""
STAMP = "2026-11-25T09:00:00+00:00"
KEY_TEXT = "0123456789abcdef" * 4 + "\n"  # 32 bytes as hex


class Hang(Exception):
    """A command ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise ``Hang`` if the block runs longer than ``seconds`` (pytest-timeout stand-in)."""

    def _raise(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds}s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


_GET_COMMAND = typer.testing._get_command


@functools.cache
def _command() -> object:
    return _GET_COMMAND(app)


def invoke(
    args: Sequence[str],
    *,
    codes: Sequence[int] = (0, 1, 2),
    timeout: int = 30,
    env: dict[str, str] | None = None,
) -> Result:
    """Run ``tce ARGS`` and check it ended cleanly with one of ``codes``.

    The Click command is built once (Typer rebuilds it on every invoke, ~0.05 s each, which
    adds up over the hundreds of runs of this suite).
    """
    runner = CliRunner()
    with (
        mock.patch.object(typer.testing, "_get_command", lambda _app: _command()),
        time_limit(timeout),
    ):
        result = runner.invoke(app, [str(a) for a in args], env=env)
    assert_clean(result, args, codes)
    return result


def assert_clean(result: Result, args: Sequence[str], codes: Sequence[int]) -> None:
    """The contract for any input: a known exit code, a one-line error, no traceback."""
    label = " ".join(str(a) for a in args)
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), (
        f"tce {label}: {type(exc).__name__} escaped: {exc!r}"
    )
    out, err = result.stdout, result.stderr
    assert "Traceback" not in out + err, f"tce {label}: traceback shown\n{err}"
    assert "internal error" not in err, f"tce {label}: internal error\n{err}"
    assert "\x1b" not in out + err, f"tce {label}: a terminal escape sequence was printed"
    assert result.exit_code in codes, (
        f"tce {label}: exit {result.exit_code}, expected one of {tuple(codes)}\n{out}\n{err}"
    )
    if result.exit_code == 2:
        errors = [line for line in err.splitlines() if line.startswith("Error:")]
        assert errors or "Usage:" in err or _mapping_check_listing(err), (
            f"tce {label}: exit 2 without an Error: line\n{err}"
        )
        assert len(errors) <= 1 or args[:2] == ["mapping", "check"], err


def _mapping_check_listing(err: str) -> bool:
    return "Hint:" in err


def nhs_check_digit(nine: str) -> int | None:
    """The Modulus 11 check digit for nine digits (None when 10: no valid number)."""
    total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    return 0 if check == 11 else (None if check == 10 else check)


def nhs_numbers_999(start: int, count: int) -> list[str]:
    """``count`` distinct valid NHS numbers in the 999 test range, from ``start`` upwards."""
    out: list[str] = []
    n = start
    while len(out) < count:
        nine = f"999{n:06d}"
        check = nhs_check_digit(nine)
        if check is not None:
            out.append(f"{nine}{check}")
        n += 1
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> sha256), folders included as ''."""
    if not folder.exists():
        return {}
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        out[rel] = sha256(path) if path.is_file() else ""
    return out


# --- hostile inputs ----------------------------------------------------------------------------

MINI_HEADER = MINI_CSV.read_text("utf-8").splitlines()[0]
MINI_ROWS = MINI_CSV.read_text("utf-8").splitlines()[1:]
MINI_GOOD = MINI_ROWS[0]
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def _zip_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return buffer.getvalue()


def _big_cell_row(size: int) -> str:
    cells = MINI_GOOD.split(",")
    cells[-1] = "x" * size
    return ",".join(cells)


def _bad_utf8_deep(size: int) -> bytes:
    """A UTF-8 file of about ``size`` bytes whose one invalid byte sits at ~11/12 of it (past
    any detection sample), each row a different child so findings stay few."""
    cells = MINI_GOOD.replace("Alice", "Zoë").split(",")
    width = len(",".join(cells)) + 12
    lines = [MINI_HEADER.encode()]
    for i in range(size // width):
        cells[0], cells[1], cells[2] = f"R{i}", f"C{i}", ""
        lines.append(",".join(cells).encode("utf-8"))
    bad = len(lines) * 11 // 12
    lines[bad] = lines[bad].replace("Zoë".encode(), b"Zo\xff")
    return b"\n".join(lines) + b"\n"


def hostile_csvs(tmp: Path, *, prefix: str = "mini_", big: bool = True) -> dict[str, Path]:
    """Bad CSV-ish files named so the mini mapping's ``mini_*.csv`` glob picks them up."""
    out: dict[str, Path] = {}
    for name, data in csv_cases(big=big).items():
        path = tmp / f"{prefix}{name}_2026-27Q2.csv"
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        out[name] = path
    return out


def csv_cases(*, big: bool = True) -> dict[str, bytes | str]:
    """The bad CSV contents by case name (see :func:`hostile_csvs`)."""
    header, good = MINI_HEADER, MINI_GOOD
    rows = "\n".join(MINI_ROWS[:5])
    wide_header = header + "," + ",".join(f"Extra {i}" for i in range(1000))
    wide_row = good + "," * 1000
    cases: dict[str, bytes | str] = {
        "empty": b"",
        "whitespace_only": "  \n\n \r\n",
        "header_only": header + "\n",
        "binary": bytes(range(256)) * 64,
        "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
        "legacy_xls": OLE2,
        "zip_renamed": _zip_bytes(),
        "xlsx_truncated": b"PK\x03\x04" + b"\x00" * 100,
        "truncated_mid_row": header + "\n" + good + "\n" + good[: len(good) // 2],
        "mixed_line_endings": f"{header}\r\n{MINI_ROWS[0]}\n{MINI_ROWS[1]}\r{MINI_ROWS[2]}\r\n",
        "unterminated_quote": f'{header}\n{good}\n"R9,"C9 never closed\n{good}\n',
        "quote_mid_value": f'{header}\nR1,C"1,{",".join(good.split(",")[2:])}\n',
        "wide_1025_columns": f"{wide_header}\n{wide_row}\n",
        "too_many_columns": ",".join(str(i) for i in range(20_000)) + "\n",
        "duplicate_headers": header.replace("Gender", "Ref") + "\n" + rows + "\n",
        "blank_headers": header.replace("Gender", "").replace("Notes", "") + "\n" + rows + "\n",
        "ragged_rows": f"{header}\n{good}\n{good},extra,cells\nR2,C2\n",
        "nul_bytes": (header + "\n" + good.replace("Alice", "Al\x00ice") + "\n\x00\x00\n"),
        "nul_heavy": f"{header}\n{good}\n".encode("utf-16-le"),  # UTF-16 without a BOM
        "utf16_bom": ("\ufeff" + header + "\n" + good + "\n").encode("utf-16-le"),
        "cp1252": (header + "\n" + good.replace("Alice", "Zoë") + "\n").encode("cp1252"),
        "bom_then_bad_utf8": b"\xef\xbb\xbf" + (header + "\n").encode() + b"\xff\xfe\n",
        "one_column": "Ref\nR1\nR2\n",
        "control_chars": header
        + "\n"
        + good.replace("Alice", "Al\x01\x02\x1bice").replace("R1,", "R\x02\x0b1,", 1)
        + "\n"
        + good.replace("Girl", "Gi\x01rl\x1b[2J").replace("R1,", "R2,", 1)
        + "\n",
        "markup_in_cells": header
        + "\n"
        + good.replace("Girl", "[/x]").replace("WBRI", "[bold red]W[/bold red]")
        + "\n",
        "dates_as_numbers": header + "\n" + good.replace("01/02/2012", "40941") + "\n",
        "dates_iso_and_text": header
        + "\n"
        + good.replace("01/02/2012", "2012-02-01").replace("10/10/2026", "tenth Oct 2026")
        + "\n",
        "formula_cells": header + "\n" + good.replace("Alice Example", "=HYPERLINK(1)") + "\n",
        "lone_cr": f"{header}\r{good}\r{good}\r",
    }
    if big:
        cases["cell_10mb"] = header + "\n" + _big_cell_row(10 * 1024 * 1024) + "\n"
        cases["bad_utf8_at_5mb"] = _bad_utf8_deep(5_600_000)
    return cases


WORKBOOK_CASES = (
    "formulas_and_errors",
    "merged_header",
    "hidden_sheets",
    "only_hidden_sheet",
    "dates_as_text_and_numbers",
    "empty_workbook",
    "header_only_xlsx",
    "wide_xlsx",
    "corrupt_xlsx",
)


def hostile_workbooks(tmp: Path, *, prefix: str = "mini_") -> dict[str, Path]:
    """Workbooks with formulas, error cells, merged headers, hidden sheets, odd dates."""
    from datetime import date, datetime

    from openpyxl import Workbook

    header = MINI_HEADER.split(",")
    good = MINI_GOOD.split(",")

    def book(build: Callable[[Workbook], None]) -> Workbook:
        wb = Workbook()
        build(wb)
        return wb

    def plain(ws: object, rows: list[list[object]]) -> None:
        for row in rows:
            ws.append(row)  # type: ignore[attr-defined]

    def formulas(wb: Workbook) -> None:
        ws = wb.active
        plain(ws, [header, good])
        row = list(good)
        row[0] = "=1/0"  # no cached value: reads as empty
        row[5] = "=DATE(2012,2,1)"
        row[18] = "=A2*2"
        ws.append(row)
        ws.append(["R4", "C4", "=NA()"] + good[3:])
        ws["E2"] = "#DIV/0!"
        ws["E2"].data_type = "e"
        ws["S2"] = "#N/A"
        ws["S2"].data_type = "e"
        ws["F3"] = "#VALUE!"
        ws["F3"].data_type = "e"

    def merged_header(wb: Workbook) -> None:
        ws = wb.active
        ws.append(["Report: children at risk"] + [None] * (len(header) - 1))
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=6)
        ws.append(header)
        ws.merge_cells(start_row=2, start_column=2, end_row=2, end_column=4)
        plain(ws, [good, good])

    def hidden_sheets(wb: Workbook) -> None:
        hidden = wb.active
        hidden.title = "Lookup"
        hidden.sheet_state = "hidden"
        plain(hidden, [["code", "label"], ["M", "Male"]])
        veryhidden = wb.create_sheet("Secret")
        veryhidden.sheet_state = "veryHidden"
        plain(veryhidden, [header, good])
        plain(wb.create_sheet("Data"), [header, good])

    def only_hidden(wb: Workbook) -> None:
        ws = wb.active
        plain(ws, [header, good])
        wb.create_sheet("Blank")
        ws.sheet_state = "hidden"

    def dates(wb: Workbook) -> None:
        ws = wb.active
        ws.append(header)
        for dob in (
            date(2012, 2, 1),
            datetime(2012, 2, 1, 13, 30),
            40941,
            40941.5,
            "01/02/2012",
            "2012-02-01",
            "1 Feb 2012",
            "Feb 1st",
            -5,
            1e12,
            True,
        ):
            row: list[object] = list(good)
            row[5] = dob
            row[7] = dob
            ws.append(row)

    def empty_book(wb: Workbook) -> None:
        wb.create_sheet("Another")

    def header_only(wb: Workbook) -> None:
        wb.active.append(header)

    def wide(wb: Workbook) -> None:
        ws = wb.active
        ws.append(header + [f"Extra {i}" for i in range(1000)])
        ws.append(good + ["x"] * 1000)

    builds: dict[str, Callable[[Workbook], None]] = {
        "formulas_and_errors": formulas,
        "merged_header": merged_header,
        "hidden_sheets": hidden_sheets,
        "only_hidden_sheet": only_hidden,
        "dates_as_text_and_numbers": dates,
        "empty_workbook": empty_book,
        "header_only_xlsx": header_only,
        "wide_xlsx": wide,
    }
    assert set(builds) | {"corrupt_xlsx"} == set(WORKBOOK_CASES)
    out: dict[str, Path] = {}
    for name, build in builds.items():
        path = tmp / f"{prefix}{name}_2026-27Q2.xlsx"
        book(build).save(path)
        out[name] = path
    broken = tmp / f"{prefix}corrupt_xlsx_2026-27Q2.xlsx"
    data = out["formulas_and_errors"].read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    out["corrupt_xlsx"] = broken
    return out


def mini_mapping_for(tmp: Path, *, match: str = "mini_*") -> Path:
    """The mini mapping with a ``match:`` glob that takes both .csv and .xlsx files."""
    text = MINI_MAPPING.read_text("utf-8").replace('match: "mini_*.csv"', f'match: "{match}"')
    path = tmp / "mini.yaml"
    path.write_text(text, "utf-8")
    return path


def write_key(tmp: Path) -> Path:
    key = tmp / "robust.key"
    key.write_text(KEY_TEXT, "utf-8")
    os.chmod(key, 0o600)
    return key
