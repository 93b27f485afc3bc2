"""Rendering and writing the pack: golden Markdown, templates, workbook, CSV, atomic writes."""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from tce_cli.errors import ConfigError, OutputError
from tce_cli.periods import parse_period
from tce_cli.report import Pack, build_pack, render_files, render_markdown, write_pack
from tce_cli.report.markdown import builtin_templates
from tce_cli.report.pack import NOT_FOR_PUBLICATION, TIDY_COLUMNS
from test_report_support import P2, generated, key, scenario

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
WHEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Pack:
    store = generated(tmp_path_factory.mktemp("gen") / "store")
    return build_pack(store, parse_period(P2), generated_at=WHEN)


@pytest.fixture(scope="module")
def unsuppressed(tmp_path_factory: pytest.TempPathFactory) -> Pack:
    store = scenario(tmp_path_factory.mktemp("scenario") / "store")
    return build_pack(store, parse_period(P2), suppression=False, generated_at=WHEN)


@pytest.fixture(scope="module")
def workbook(pack: Pack) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(render_files(pack, ["xlsx"])["pack.xlsx"]))


# --- Markdown -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["report_pack.md", "report_pack_unsuppressed.md"])
def test_markdown_matches_golden(
    name: str, pack: Pack, unsuppressed: Pack, request: pytest.FixtureRequest
) -> None:
    text = render_markdown(pack if name == "report_pack.md" else unsuppressed)
    golden = GOLDEN / name
    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.read_text(encoding="utf-8") == text, "run pytest --update-golden to accept"


def test_markdown_stamps_every_section_when_not_for_publication(unsuppressed: Pack) -> None:
    text = render_markdown(unsuppressed)
    sections = text.count("\n## ")
    assert text.count(f"> **{NOT_FOR_PUBLICATION}**") == sections  # Contents + each section
    assert text.index(NOT_FOR_PUBLICATION) < text.index("\n## ")  # and at the very top


def test_mermaid_charts_leave_out_suppressed_values(pack: Pack) -> None:
    text = render_markdown(pack)
    blocks = re.findall(r"```mermaid\n(.*?)```", text, re.S)
    assert len(blocks) >= 5
    for block in blocks:
        labels = re.search(r"x-axis \[(.*)\]", block)
        values = re.search(r"(?:bar|line) \[(.*)\]", block)
        assert labels and values
        numbers = [float(v) for v in values.group(1).split(", ")]
        assert len(numbers) == labels.group(1).count('"') // 2
        assert "c" not in values.group(1)
    assert "Not plotted (suppressed or not available):" in text


def test_templates_ship_inside_the_package_unchanged() -> None:
    user = {p.name: p.read_bytes() for p in (ROOT / "report_templates").glob("*.j2")}
    shipped = {p.name: p.read_bytes() for p in builtin_templates().glob("*.j2")}
    assert user and user == shipped, "copy report_templates/* to src/tce_cli/templates/"


def test_user_templates_replace_built_in_ones(tmp_path: Path, unsuppressed: Pack) -> None:
    (tmp_path / "pack.md.j2").write_text(
        "# {{ title }} ({{ period.label }})\n{% for s in sections %}"
        "{% for t in s.tables %}{% include '_table.md.j2' %}{% endfor %}{% endfor %}"
    )
    text = render_markdown(unsuppressed, tmp_path)
    assert text.startswith("# Child exploitation quarterly pack: Greater Manchester (2026-27 Q2)")
    assert "| Measure | 2026-27 Q2 |" in text


@pytest.mark.parametrize(
    "body",
    [
        "{% include '../secret.md' %}",
        "{% include '/etc/passwd' %}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ nothing_like_this }}",
        "{% if %}",
    ],
)
def test_templates_cannot_escape_their_folder(
    tmp_path: Path, unsuppressed: Pack, body: str
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (tmp_path / "secret.md").write_text("SECRET")
    (folder / "pack.md.j2").write_text(body)
    with pytest.raises(ConfigError):
        render_markdown(unsuppressed, folder)


def test_missing_templates_folder_is_a_config_error(unsuppressed: Pack, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        render_markdown(unsuppressed, tmp_path / "nope")


def test_markdown_escapes_table_breaking_text(pack: Pack) -> None:
    text = render_markdown(pack)
    assert "Agency × Field" not in text  # keys never leak into the Markdown
    for line in (ln for ln in text.splitlines() if ln.startswith("|")):
        assert line.endswith("|")


# --- Excel ----------------------------------------------------------------------------------


def test_workbook_has_contents_section_sheets_charts_and_notes(
    workbook: openpyxl.Workbook, pack: Pack
) -> None:
    assert workbook.sheetnames == ["Contents", *(s.sheet for s in pack.sections)]
    assert workbook.sheetnames[-1] == "Notes"
    with_charts = {name for name in workbook.sheetnames if workbook[name]._charts}
    assert {"Type by LA", "Trends", "Missing and RHI", "Referrals"} <= with_charts
    kinds = {type(c).__name__ for name in with_charts for c in workbook[name]._charts}
    assert kinds == {"BarChart", "LineChart"}
    contents = workbook["Contents"]
    assert contents["A6"].hyperlink is not None
    assert contents["A6"].hyperlink.location == "'Headline'!A1"


def test_workbook_styles_formats_and_frozen_panes(workbook: openpyxl.Workbook) -> None:
    ws = workbook["Type by LA"]
    assert ws.freeze_panes == "B5"
    header = next(c for c in ws["A"] if c.value == "Local authority")
    assert header.row == 6 and header.font.bold  # row 5: the first table's title
    assert header.fill.fgColor.rgb.endswith("1F4E78")
    numbers = [c for row in ws.iter_rows() for c in row if isinstance(c.value, int | float)]
    assert numbers and all(c.number_format in ("#,##0", "0.0%", "0.0", "0") for c in numbers)
    rates = workbook["Risk"]
    percents = [c for row in rates.iter_rows() for c in row if c.number_format == "0.0%"]
    assert percents and all(0 <= c.value <= 1 for c in percents)
    assert ws.column_dimensions["A"].width >= 20


def test_workbook_symbols_are_text_and_properties_are_the_timestamp(
    workbook: openpyxl.Workbook,
) -> None:
    values = [c.value for ws in workbook for row in ws.iter_rows() for c in row]
    assert "c" in values and "z" in values
    naive = WHEN.replace(tzinfo=None)
    assert workbook.properties.created == naive
    assert workbook.properties.modified == naive


def test_formula_like_text_is_never_a_formula(workbook: openpyxl.Workbook) -> None:
    found = []
    for ws in workbook:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("=HYPERLINK"):
                    found.append(c)
    assert found
    assert all(c.data_type == "s" and c.quotePrefix for c in found)


def test_unsuppressed_workbook_is_stamped_on_every_sheet(unsuppressed: Pack) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(render_files(unsuppressed, ["xlsx"])["pack.xlsx"]))
    assert all(NOT_FOR_PUBLICATION in str(ws["A2"].value) for ws in wb)


# --- CSV and files --------------------------------------------------------------------------


def test_measures_csv_is_tidy_and_neutralised(pack: Pack) -> None:
    text = render_files(pack, [])["measures.csv"].decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == TIDY_COLUMNS
    assert all(len(r) == 8 for r in rows)
    assert {r[0] for r in rows[1:]} == {"202627"}
    assert {r[2] for r in rows[1:]} == {"English devolved area", "Local authority"}
    assert any(r[6].startswith("'=HYPERLINK") for r in rows)
    assert not any(r[6].startswith("=") for r in rows)
    assert {r[7] for r in rows[1:]} >= {"c", "z", "0"}


def test_no_row_level_data_in_any_output(pack: Pack) -> None:
    files = render_files(pack, ["md", "xlsx"])
    wb = openpyxl.load_workbook(io.BytesIO(files["pack.xlsx"]))
    cells = " ".join(str(c.value) for ws in wb for row in ws.iter_rows() for c in row)
    texts = [files["pack.md"].decode(), files["measures.csv"].decode(), cells]
    pseudonyms = [key(f"g{i}") for i in range(240)]
    for text in texts:
        assert not re.search(r"\b[0-9a-f]{64}\b", text)
        assert not any(p in text for p in pseudonyms[:20])
        assert not re.search(r"\bR\d+\b", text)  # record ids


def test_two_runs_are_byte_identical(pack: Pack, tmp_path: Path) -> None:
    first = write_pack(pack, tmp_path / "a", ["md", "xlsx"])
    second = write_pack(pack, tmp_path / "b", ["md", "xlsx"])
    assert [p.name for p in first] == ["measures.csv", "pack.md", "pack.xlsx"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_writes_leave_no_temporary_files_and_failures_change_nothing(
    pack: Pack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_pack(pack, out, ["md"])
    assert sorted(p.name for p in out.iterdir()) == ["measures.csv", "pack.md"]
    (out / "pack.md").write_text("old pack")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "pack.md.j2").write_text("{% include '../x' %}")
    with pytest.raises(ConfigError):
        write_pack(pack, out, ["md"], bad)
    assert (out / "pack.md").read_text() == "old pack"

    real_replace = os.replace
    calls = []

    def flaky(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(dst)
        if str(dst).endswith("pack.md"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OutputError):
        write_pack(pack, out, ["md"])
    monkeypatch.undo()
    assert (out / "pack.md").read_text() == "old pack"
    assert sorted(p.name for p in out.iterdir()) == ["measures.csv", "pack.md"]
