"""Leaks: personal data planted in every agency file never comes out anywhere.

The latest quarter's six example exports are copied (their first 60 rows) and every row gets
unique markers in its personal columns: names and initials (``Zzleakname..``), free-text notes
and addresses (``ZZLEAKNOTE``, ``ZZLEAKADDR``), NHS numbers (valid, unique, in the 999 test
range; some with a wrong check digit), dates of birth (unique per row, in the file's own format;
some impossible) and postcodes (shape-valid, unique, in the unused ``ZY`` area; some malformed).
Record ids are replaced by ``ZZREC..`` markers too.

Then every command runs: validate (table and JSON, ``--findings-out``, ``--feedback``),
harmonise, export (CSV, Excel, Parquet), report (Markdown, Excel, CSV), inspect (table),
mapping init and mapping check ``--sample``. Their stdout, stderr and every file they wrote
(Parquet and workbooks read back as values, the rest as text) are scanned for the markers.

Decisions:
- ``tce inspect --format json`` prints the file's rows by design (it shows a user their own
  file), so its output is not scanned; instead it is the control that proves the markers
  were planted and read. ``tce inspect``'s table lists values only of columns with at most
  12 distinct values; the markers are unique per row, so the table is scanned.
- The agency's own record ids may appear only where the README says: the feedback workbook,
  ``--findings-out``, the store (``record_id`` is a shared field), its rejected rows, and
  exports of the store. Never on the terminal, in manifests, drafts or the report.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

from _robust import EXAMPLES, MAPPINGS, STAMP, invoke, nhs_numbers_999, write_key

LATEST = sorted(EXAMPLES.iterdir())[-1]
PERIOD = LATEST.name

NAME = {"forename", "surname", "forenames", "patient name", "initials"}
NOTES = {"case notes", "intelligence summary", "case_note_summary", "clinical notes", "notes"}
ADDRESS = {"address", "home address", "address_line_1"}
NHS = {"nhs number", "nhs no", "pnhsnumber", "nhsnumber"}
DOB = {"dob", "date_of_birth", "personbirthdate", "dateofbirth"}
POSTCODE = {"postcode", "post_code"}
RECORD = {"episode id", "occurrence no", "episode_id", "tracker ref", "ref", "episodeid"}
DOB_FORMATS = {  # how each agency writes dates (None: a date cell in a workbook)
    "bolton": "%d/%m/%Y",
    "gmp": "%Y-%m-%d",
    "mcc": "%d-%b-%Y",
    "mft": "%Y-%m-%d",
    "brightwater": None,
    "wigan": None,
}
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXY"
ROWS = 60  # data rows kept per file: every kind of row, in a fraction of the time


@dataclass
class Planted:
    """Every marker planted, by kind."""

    nhs: set[str] = field(default_factory=set)
    dobs: set[date] = field(default_factory=set)
    bad_dobs: set[str] = field(default_factory=set)
    postcodes: set[str] = field(default_factory=set)
    record_ids: set[str] = field(default_factory=set)
    other_dates: set[str] = field(default_factory=set)  # dates in other columns (not markers)


def _postcode(k: int) -> str:
    first, rest = 1 + k % 9, k // 9
    return f"ZY{first} {rest % 10}{LETTERS[(rest // 10) % 23]}{LETTERS[(rest // 230) % 23]}"


def _cell_markers(agency: int, row: int, header: str, planted: Planted, fmt: str | None) -> Any:
    """The marker for one cell of a personal column, or None to leave the cell alone."""
    key = header.strip().lower()
    bad = row % 10 == 3  # every tenth row: a malformed value, which checks quote if anything
    if key in NAME:
        return f"Zzleakname{agency}x{row}"
    if key in NOTES:
        return f"ZZLEAKNOTE {agency}-{row}: disclosed to a teacher"
    if key in ADDRESS:
        return f"{row} ZZLEAKADDR Street"
    if key in NHS:
        number = nhs_numbers_999(200_000 + agency * 1000 + row * 3, 1)[0]
        if bad:
            number = number[:9] + str((int(number[9]) + 1) % 10)
        planted.nhs.add(number)
        return number
    if key in DOB:
        born = date(2010, 1, 1) + timedelta(days=agency * 400 + row)
        if bad:
            text = f"{born.year}-{13 + agency}-{born.day:02d}"
            planted.bad_dobs.add(text)
            return text
        planted.dobs.add(born)
        if fmt is None:
            return datetime(born.year, born.month, born.day)
        text = born.strftime(fmt)
        return text.upper() if "%b" in fmt else text
    if key in POSTCODE:
        text = f"ZZLEAKPC{agency}x{row}" if bad else _postcode(agency * 300 + row)
        planted.postcodes.add(text)
        return text
    if key in RECORD:
        text = f"ZZREC{agency}x{row}"
        planted.record_ids.add(text)
        return text
    return None


def _plant_csv(path: Path, agency: int, prefix: str, planted: Planted) -> None:
    raw = path.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        encoding, text = "cp1252", raw.decode("cp1252")
    delimiter = (
        "\t" if path.suffix == ".txt" else (";" if text.count(";") > text.count(",") else ",")
    )
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))[: ROWS + 1]
    header = rows[0]
    for r, cells in enumerate(rows[1:], start=1):
        for c, name in enumerate(header):
            if c >= len(cells):
                continue
            marker = _cell_markers(agency, r, name, planted, DOB_FORMATS[prefix])
            if marker is not None:
                cells[c] = str(marker)
            else:
                planted.other_dates.update(_dates_in(cells[c]))
    out = io.StringIO()
    eol = "\r\n" if b"\r\n" in raw else "\n"
    csv.writer(out, delimiter=delimiter, lineterminator=eol).writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))


def _plant_xlsx(path: Path, agency: int, prefix: str, planted: Planted) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    header_row = next(
        i
        for i, row in enumerate(ws.iter_rows(values_only=True), start=1)
        if sum(map(bool, row)) > 5
    )
    header = [str(c.value or "") for c in ws[header_row]]
    if ws.max_row > header_row + ROWS:
        ws.delete_rows(header_row + ROWS + 1, ws.max_row - header_row - ROWS)
    for r, row in enumerate(ws.iter_rows(min_row=header_row + 1), start=1):
        for cell, name in zip(row, header, strict=False):
            marker = _cell_markers(agency, r, name, planted, DOB_FORMATS[prefix])
            if marker is not None:
                cell.value = marker
            elif isinstance(cell.value, datetime):
                planted.other_dates.add(cell.value.date().isoformat())
            elif cell.value is not None:
                planted.other_dates.update(_dates_in(str(cell.value)))
    wb.save(path)


_DATES = [
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), "%Y-%m-%d"),
    (re.compile(r"\b(\d{2})/(\d{2})/(\d{4})\b"), "%d/%m/%Y"),
    (re.compile(r"\b(\d{2})-([A-Za-z]{3})-(\d{4})\b"), "%d-%b-%Y"),
    (re.compile(r"\b(\d{2})\.(\d{2})\.(\d{4})\b"), "%d.%m.%Y"),
]


def _dates_in(text: str) -> set[str]:
    """Dates written in ``text`` (any format the examples use), as ISO text."""
    found = set()
    for pattern, fmt in _DATES:
        for match in pattern.finditer(text):
            try:
                found.add(datetime.strptime(match.group(0), fmt).date().isoformat())
            except ValueError:
                continue
    return found


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Run:
    folder: Path
    planted: Planted
    streams: dict[str, str]  # command -> stdout + stderr
    control: str  # inspect --format json output


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    folder = tmp_path_factory.mktemp("leaks")
    data = folder / "data"
    shutil.copytree(LATEST, data)
    mappings = folder / "mappings"
    shutil.copytree(MAPPINGS, mappings)
    planted = Planted()
    for agency, path in enumerate(sorted(data.iterdir())):
        prefix = path.name.split("_")[0].lower()
        if path.suffix == ".xlsx":
            _plant_xlsx(path, agency, prefix, planted)
        else:
            _plant_csv(path, agency, prefix, planted)
    key = write_key(folder)
    streams: dict[str, str] = {}
    control: list[str] = []

    def tce(label: str, *args: Any, codes: tuple[int, ...] = (0, 1)) -> None:
        result = invoke(list(args), codes=codes, timeout=120)
        streams[label] = result.stdout + "\n" + result.stderr

    feedback, drafts = folder / "feedback", folder / "drafts"
    feedback.mkdir()
    drafts.mkdir()
    import os

    cwd = Path.cwd()
    os.chdir(folder)
    try:
        for path in sorted(data.iterdir()):
            stem = path.stem
            common = ["--mappings", mappings, "--period", PERIOD]
            tce(
                f"validate {stem}",
                "validate",
                path,
                *common,
                "--show",
                "1000",
                "--findings-out",
                feedback / f"{stem}.json",
                "--feedback",
                feedback / f"{stem}-feedback.xlsx",
            )
            tce(f"validate {stem} json", "validate", path, *common, "--format", "json")
            tce(f"inspect {stem}", "inspect", path, codes=(0,))
            control.append(invoke(["inspect", path, "--format", "json"], codes=(0,)).stdout)
            tce(
                f"mapping init {stem}",
                "mapping",
                "init",
                path,
                "--out",
                drafts / f"{stem}.yaml",
                codes=(0,),
            )
            tce(
                f"mapping check {stem}",
                "mapping",
                "check",
                drafts / f"{stem}.yaml",
                "--sample",
                path,
                codes=(0, 2),
            )
        store = folder / "store"
        harmonise = ["harmonise", data, "--mappings", mappings, "--period", PERIOD]
        harmonise += ["--store", store, "--key-file", key, "--generated-at", STAMP]
        tce("harmonise", *harmonise, codes=(0,))
        exports = folder / "exports"
        for fmt in ("csv", "xlsx", "parquet"):
            tce(
                f"export {fmt}",
                "export",
                "--period",
                PERIOD,
                "--store",
                store,
                "--out",
                exports / f"h.{fmt}",
                codes=(0,),
            )
        tce(
            "report",
            "report",
            "--period",
            PERIOD,
            "--store",
            store,
            "--out",
            folder / "report",
            codes=(0,),
        )
    finally:
        os.chdir(cwd)
    yield Run(folder, planted, streams, "\n".join(control))


# --- reading everything back ----------------------------------------------------------------------


def _file_text(path: Path) -> str:
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        meta = json.dumps(pl.read_parquet_metadata(path))
        flat = frame.with_columns(
            pl.col(c).cast(pl.List(pl.String)).list.join(";")
            for c, t in frame.schema.items()
            if isinstance(t, pl.List)
        )
        return flat.write_csv() + meta + " ".join(frame.columns)
    if path.suffix == ".xlsx":
        wb = openpyxl.load_workbook(path, read_only=True)
        parts = [" ".join(wb.sheetnames), str(wb.properties.title), str(wb.properties.creator)]
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                parts.append("\t".join("" if v is None else str(v) for v in row))
        return "\n".join(parts)
    return path.read_bytes().decode("utf-8", errors="replace")


def _outputs(run: Run) -> dict[str, str]:
    """Every file written by the commands (not the planted inputs or mappings), as text."""
    skip = {run.folder / "data", run.folder / "mappings"}
    out = {}
    for path in sorted(run.folder.rglob("*")):
        if path.is_file() and not any(s in path.parents for s in skip) and path.suffix != ".key":
            out[str(path.relative_to(run.folder))] = _file_text(path)
    return out


_NHS = re.compile(r"(?<!\d)(\d{3}) ?(\d{3}) ?(\d{4})(?!\d)")
_POSTCODE = re.compile(r"ZY\d ?\d[A-Z]{2}|ZZLEAKPC\d+x\d+")
_WORDS = re.compile(r"zzleak(?:name|note|addr)", re.IGNORECASE)
_BAD_DOB = re.compile(r"\b\d{4}-1[3-9]-\d{2}\b")
_RECORD = re.compile(r"ZZREC\d+x\d+")


def _leaks(text: str, planted: Planted) -> list[str]:
    """Planted personal data found in ``text``."""
    found = [m.group(0) for m in _WORDS.finditer(text)]
    found += [
        m.group(0)
        for m in _POSTCODE.finditer(text)
        if m.group(0) in planted.postcodes
        or m.group(0).replace(" ", "") in {p.replace(" ", "") for p in planted.postcodes}
    ]
    found += [m.group(0) for m in _NHS.finditer(text) if "".join(m.groups()) in planted.nhs]
    found += [m.group(0) for m in _BAD_DOB.finditer(text) if m.group(0) in planted.bad_dobs]
    dobs = {d.isoformat() for d in planted.dobs} - planted.other_dates
    found += [d for d in _dates_in(text) if d in dobs]
    return found


def test_the_markers_were_planted_and_read(run: Run) -> None:
    """The control: the reader sees every kind of marker (so finding none elsewhere means
    something)."""
    assert _WORDS.search(run.control)
    assert any(n in run.control for n in run.planted.nhs)
    assert any(p in run.control for p in run.planted.postcodes)
    assert _dates_in(run.control) & {d.isoformat() for d in run.planted.dobs}
    assert any(r in run.control for r in run.planted.record_ids)
    assert len(run.planted.nhs) > 300 and len(run.planted.dobs) > 250


def test_no_personal_data_in_any_output_or_on_the_terminal(run: Run) -> None:
    texts = {f"stdout/stderr of tce {k}": v for k, v in run.streams.items()} | _outputs(run)
    leaks = {
        where: found[:5] for where, text in texts.items() if (found := _leaks(text, run.planted))
    }
    assert not leaks


def test_record_ids_only_in_the_agency_outputs_the_store_and_its_exports(run: Run) -> None:
    allowed = ("feedback/", "exports/", "store/period=", "store/rejected/")
    texts = {f"stdout/stderr of tce {k}": v for k, v in run.streams.items()} | _outputs(run)
    found = {where: sorted(set(_RECORD.findall(text)))[:3] for where, text in texts.items()}
    assert not {
        w: ids
        for w, ids in found.items()
        if ids and not w.startswith(allowed) or (ids and w.endswith(".json") and "manifest" in w)
    }
    assert found["exports/h.csv"] and any(
        ids for w, ids in found.items() if w.startswith("feedback/")
    )  # the check is live: the ids are where they belong


def test_the_store_holds_no_personal_columns(run: Run) -> None:
    personal = {
        "nhs_number",
        "upn",
        "la_child_id",
        "agency_person_id",
        "date_of_birth",
        "home_postcode",
    }
    for part in (run.folder / "store").rglob("*.parquet"):
        assert not personal & set(pl.read_parquet_schema(part))
    for rejected in (run.folder / "store" / "rejected").rglob("*.csv"):
        header = rejected.read_text("utf-8").splitlines()[0].split(",")
        assert header == [
            "agency_id",
            "source_file",
            "source_row",
            "record_id",
            "codes",
            "messages",
        ]


def test_planted_bad_values_were_checked(run: Run) -> None:
    codes: set[str] = set()
    for path in (run.folder / "feedback").glob("*.json"):
        codes |= {f["code"] for f in json.loads(path.read_text("utf-8"))}
    assert {"nhs-number-invalid", "postcode-invalid", "invalid-date"} <= codes
