"""Mapping files: valid ones load; bad ones give exit 2 naming file, key path and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tce_cli.cli import app
from tce_cli.errors import MappingError
from tce_cli.mapping import load_mapping, match_mapping, resolve_column

GOOD = Path(__file__).parent / "fixtures" / "validate" / "mini.yaml"

BAD = {
    "unknown top key": ("agencyy: {}\n", "unknown key 'agencyy'"),
    "unknown field key": (
        "fields:\n  sex: {colum: Gender}\n",
        "fields.sex: unknown key 'colum'",
    ),
    "unknown framework field": ("fields:\n  gender: Gender\n", "'gender' is not a framework"),
    "wrong code": (
        "fields:\n  sex: {column: Gender, values: {Male: X}}\n",
        "values.Male: 'X' is not a Sex code (M, F, U)",
    ),
    "wrong agency type": ("agency: {type: COUNCIL}\n", "'COUNCIL' is not an agency type"),
    "two sources": (
        "fields:\n  sex: {column: Gender, constant: M}\n",
        "give exactly one of column",
    ),
    "formats on a code": (
        "fields:\n  sex: {column: Gender, formats: ['%d/%m/%Y']}\n",
        "formats only apply to date fields",
    ),
}


def _variant(tmp_path: Path, patch: str) -> Path:
    """The good mapping with the keys in ``patch`` replaced (a YAML merge by top-level key)."""
    import yaml

    data = yaml.safe_load(GOOD.read_text())
    extra = yaml.safe_load(patch)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_good_mapping_loads() -> None:
    m = load_mapping(GOOD)
    assert m.agency.id == "mini-csc"
    assert m.fields["la_child_id"].column == "Child ID"  # shorthand string -> column


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_mapping_names_file_path_and_fix(tmp_path: Path, case: str) -> None:
    patch, expected = BAD[case]
    path = _variant(tmp_path, patch)
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert str(path) in err.value.message
    assert expected in err.value.message
    result = CliRunner().invoke(app, ["mapping", "check", str(path)])
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.output


def test_malformed_yaml_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("agency:\n  id: x\n  name: [unclosed\n")
    result = CliRunner().invoke(app, ["mapping", "check", str(path)])
    assert result.exit_code == 2
    assert "malformed YAML" in result.stderr and "line " in result.stderr


def test_mapping_check_ok_exits_0() -> None:
    result = CliRunner().invoke(app, ["mapping", "check", str(GOOD)])
    assert result.exit_code == 0 and "OK" in result.stdout


def test_match_by_glob_and_ambiguity(tmp_path: Path) -> None:
    m = load_mapping(GOOD)
    assert match_mapping(Path("MINI_2026.csv"), [(GOOD, m)])[1] is m
    with pytest.raises(MappingError, match="Several mappings match"):
        match_mapping(Path("mini_x.csv"), [(GOOD, m), (Path("other.yaml"), m)])
    with pytest.raises(MappingError, match="No mapping matches"):
        match_mapping(Path("other.csv"), [(GOOD, m)])


def test_columns_match_case_and_space_insensitively() -> None:
    spec = load_mapping(GOOD).fields["referral_source"]
    assert resolve_column(spec, ["REFERRED  BY ", "x"]) == "REFERRED  BY "
