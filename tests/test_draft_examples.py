"""`tce mapping init` against the hand-written mappings of the example agencies.

For every mapping in mappings/ that has example files in examples/data/ (whatever exists: the
test iterates over it), the draft made from one of its files must choose the hand-written
mapping's column for every required field read from a column, find at least one identifier
the same way, and recode at least 95% of the distinct code values as the hand-written
mapping does. The draft must also pass `tce mapping check` with the file as --sample.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from tce_cli.cli import app
from tce_cli.draft import Draft, DraftOptions, draft_mapping, render
from tce_cli.mapping import FieldSpec, Mapping, load_mapping, parse_mapping, resolve_column
from tce_cli.read import read_table
from tce_cli.schema import FieldType, load_schema
from tce_cli.transform import INVALID, recode_table

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
IDENTIFIERS = ("nhs_number", "upn", "la_child_id", "agency_person_id")


def _example_file(mapping: Mapping) -> Path | None:
    """The newest example file the mapping's ``match:`` globs select."""
    files = sorted(DATA.glob("*/*")) if DATA.is_dir() else []
    hits = [
        f
        for f in files
        if any(fnmatch.fnmatch(f.name.lower(), p.lower()) for p in mapping.source.patterns)
    ]
    return max(hits, key=lambda f: (f.parent.name, f.name)) if hits else None


def _cases() -> list[tuple[Path, Path]]:
    out = []
    for path in sorted((ROOT / "mappings").glob("*.yaml")):
        sample = _example_file(load_mapping(path))
        if sample is not None:
            out.append((path, sample))
    return out


CASES = _cases()
IDS = [p.stem for p, _ in CASES]
pytestmark = pytest.mark.skipif(not CASES, reason="no example mappings with example data yet")


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request: pytest.FixtureRequest) -> tuple[Mapping, Path, Draft, Mapping]:
    mapping_path, sample = request.param
    hand = load_mapping(mapping_path)
    a = hand.agency
    draft = draft_mapping(sample, options=DraftOptions(a.id, a.name, a.type, a.org_code))
    drafted = parse_mapping(yaml.safe_load(render(draft)), Path("draft.yaml"))
    return hand, sample, draft, drafted


def _columns(spec: FieldSpec | None, headers: list[str]) -> tuple[str | None, ...] | None:
    if spec is None:
        return None
    if spec.flags:
        return tuple(resolve_column(FieldSpec(column=c), headers) for c in spec.flags)
    return (resolve_column(spec, headers),)


def test_required_fields_read_the_hand_written_columns(
    case: tuple[Mapping, Path, Draft, Mapping],
) -> None:
    hand, sample, _, drafted = case
    headers = list(read_table(sample, sheet=hand.source.sheet).info.columns)
    schema = load_schema()
    required = [
        name
        for name, spec in hand.fields.items()
        if schema.field(name).required == "Y" and spec.constant is None
    ]
    assert required, "the hand-written mapping reads no required field from a column"
    wrong = {
        name: (_columns(hand.fields[name], headers), _columns(drafted.fields.get(name), headers))
        for name in required
        if _columns(hand.fields[name], headers) != _columns(drafted.fields.get(name), headers)
    }
    assert not wrong, f"hand-written vs draft columns: {wrong}"
    same_ids = [
        n
        for n in IDENTIFIERS
        if n in hand.fields
        and _columns(hand.fields[n], headers) == _columns(drafted.fields.get(n), headers)
    ]
    assert same_ids, "no identifier column chosen as in the hand-written mapping"


def _pieces(values: pl.Series, spec: FieldSpec) -> list[str]:
    text = values.drop_nulls().str.strip_chars()
    if spec.split:
        text = text.str.split(spec.split).explode().str.strip_chars()
    return sorted({v for v in text.to_list() if v})


def test_code_values_recode_as_hand_written(case: tuple[Mapping, Path, Draft, Mapping]) -> None:
    hand, sample, _, drafted = case
    table = read_table(sample, sheet=hand.source.sheet)
    headers = list(table.info.columns)
    schema = load_schema()
    agree, total, differ = 0, 0, []
    for name, spec in hand.fields.items():
        ftype = schema.field(name).type
        col = resolve_column(spec, headers)
        if ftype not in (FieldType.CODE, FieldType.CODE_LIST) or col is None or spec.flags:
            continue
        mine = drafted.fields.get(name)
        theirs = recode_table(schema, name, spec)
        ours = recode_table(schema, name, mine) if mine is not None else {}
        for value in _pieces(table.frame[col], spec):
            key = " ".join(value.upper().split())
            expected, got = theirs.get(key, INVALID), ours.get(key, INVALID)
            total += 1
            agree += expected == got
            if expected != got:
                differ.append((name, value, expected, got))
    assert total
    assert agree / total >= 0.95, f"{agree}/{total} agree; differ: {differ}"


def test_draft_records_what_the_reader_found(case: tuple[Mapping, Path, Draft, Mapping]) -> None:
    hand, sample, draft, drafted = case
    info = read_table(sample).info
    assert drafted.source.header_row == info.header_row
    if hand.source.header_row is not None:
        assert drafted.source.header_row == hand.source.header_row
    if hand.source.sheet is not None:
        assert drafted.source.sheet == hand.source.sheet
    assert any(fnmatch.fnmatch(sample.name.lower(), p.lower()) for p in drafted.source.patterns)
    assert set(drafted.ignore) <= set(info.columns)
    used = {c for s in drafted.fields.values() for c in s.source_columns} | set(drafted.ignore)
    assert used >= set(info.columns), "every column is either mapped or ignored"
    assert drafted.options.allow_test_nhs_numbers == hand.options.allow_test_nhs_numbers
    assert render(draft).count("TODO: ") == len(draft.all_todos())


def test_personal_and_free_text_columns_are_ignored(
    case: tuple[Mapping, Path, Draft, Mapping],
) -> None:
    hand, _, draft, drafted = case
    personal = {c.column for c in draft.ignored if not c.todo}
    hand_ignored = set(hand.ignore)
    assert personal <= hand_ignored, personal - hand_ignored
    assert len(personal) >= len(hand_ignored) - 2


def test_check_accepts_the_draft_with_the_sample(
    case: tuple[Mapping, Path, Draft, Mapping], tmp_path: Path
) -> None:
    _, sample, draft, _ = case
    out = tmp_path / "draft.yaml"
    out.write_text(render(draft), encoding="utf-8")
    res = CliRunner().invoke(app, ["mapping", "check", str(out), "--sample", str(sample)])
    assert res.exit_code == 0, res.output
    assert "OK" in res.stdout
