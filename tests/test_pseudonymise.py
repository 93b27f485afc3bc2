from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tce_cli.errors import KeyFileError
from tce_cli.pseudonymise import (
    add_person_key,
    available_identifiers,
    generate_key,
    hmac_sha256_expr,
    key_fingerprint,
    load_key,
    parse_key,
    person_key_exprs,
)

KEY = bytes(range(32))
ALL_IDS = available_identifiers(["nhs_number", "upn", "la_child_id", "agency_person_id"])


def _py_hmac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=1, max_size=200),
    messages=st.lists(st.text(max_size=300), min_size=1, max_size=40),
)
def test_hmac_expression_equals_python_hmac(key: bytes, messages: list[str]) -> None:
    frame = pl.DataFrame({"m": messages}, schema={"m": pl.String})
    got = frame.select(hmac_sha256_expr(key, pl.col("m")).alias("h"))["h"].to_list()
    assert got == [_py_hmac(key, m) for m in messages]


def test_hmac_keeps_null() -> None:
    frame = pl.DataFrame({"m": [None, "x"]}, schema={"m": pl.String})
    assert frame.select(hmac_sha256_expr(KEY, pl.col("m")))["m"].to_list()[0] is None


def _keys(frame: pl.DataFrame, key: bytes = KEY) -> pl.DataFrame:
    return add_person_key(frame.lazy(), key).collect()


def test_nhs_spacing_and_hyphens_give_the_same_key() -> None:
    frame = pl.DataFrame({"nhs_number": ["943 476 5919", "943-476-5919", "9434765919 "]})
    out = _keys(frame)
    assert out["person_key"].n_unique() == 1
    assert out["person_key"][0] == _py_hmac(KEY, "NHS:9434765919")
    assert "nhs_number" not in out.columns  # raw identifiers are dropped


def test_upn_and_local_ids_are_normalised() -> None:
    frame = pl.DataFrame(
        {
            "upn": ["a123 4567 89012", None, None],
            "la_child_id": [None, "  ab12 ", None],
            "agency_person_id": [None, None, "gmp-77"],
        }
    )
    out = _keys(frame)
    assert out["person_key"].to_list() == [
        _py_hmac(KEY, "UPN:A12345678901 2".replace(" ", "")),
        _py_hmac(KEY, "LA_ID:AB12"),
        _py_hmac(KEY, "AGENCY_ID:GMP-77"),
    ]


def test_different_key_gives_different_person_key() -> None:
    frame = pl.DataFrame({"nhs_number": ["9434765919"]})
    assert _keys(frame)["person_key"][0] != _keys(frame, bytes(32))["person_key"][0]


def test_priority_per_row_with_basis() -> None:
    frame = pl.DataFrame(
        {
            "nhs_number": ["9434765919", None, "  ", None, None],
            "upn": ["A123456789012", "A123456789012", None, None, None],
            "la_child_id": ["L1", "L1", "L1", None, None],
            "agency_person_id": ["P1", "P1", "P1", "P1", None],
        }
    )
    out = _keys(frame)
    assert out["person_key_basis"].to_list() == ["NHS", "UPN", "LA_ID", "AGENCY_ID", None]
    assert out["person_key"].to_list() == [
        _py_hmac(KEY, "NHS:9434765919"),
        _py_hmac(KEY, "UPN:A123456789012"),
        _py_hmac(KEY, "LA_ID:L1"),
        _py_hmac(KEY, "AGENCY_ID:P1"),
        None,
    ]
    assert set(out.columns) == {"person_key", "person_key_basis"}


def test_only_columns_present_are_used() -> None:
    assert available_identifiers(["upn", "record_id", "agency_person_id"]) == (
        ("upn", "UPN"),
        ("agency_person_id", "AGENCY_ID"),
    )
    key, basis = person_key_exprs(KEY, ())
    out = pl.DataFrame({"x": [1, 2]}).with_columns(key, basis)
    assert out["person_key"].null_count() == 2 and out["person_key_basis"].null_count() == 2


def test_numeric_identifier_column_is_hashed_as_text() -> None:
    out = _keys(pl.DataFrame({"nhs_number": [9434765919]}))
    assert out["person_key"][0] == _py_hmac(KEY, "NHS:9434765919")


def test_key_never_appears_in_query_plan() -> None:
    key = bytes.fromhex("ab" * 32)
    lazy = add_person_key(pl.LazyFrame({"nhs_number": ["1"]}), key)
    pads = [bytes(b ^ p for b in key.ljust(64, b"\0")).hex() for p in (0x36, 0x5C)]
    plan = lazy.explain() + str(person_key_exprs(key, ALL_IDS)[0])
    assert key.hex() not in plan and not any(pad[:32] in plan for pad in pads)


# --- keys ------------------------------------------------------------------------------


def test_load_key_from_file_hex_and_base64(tmp_path: Path) -> None:
    hex_file = tmp_path / "hex.key"
    hex_file.write_text(KEY.hex() + "\n")
    b64_file = tmp_path / "b64.key"
    b64_file.write_text(base64.b64encode(KEY).decode())
    assert load_key(hex_file, {}) == KEY
    assert load_key(b64_file, {}) == KEY


def test_key_file_wins_over_environment(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.write_text(KEY.hex())
    assert load_key(path, {"TCE_KEY": bytes(32).hex()}) == KEY
    assert load_key(None, {"TCE_KEY": bytes(32).hex()}) == bytes(32)


def test_missing_key_is_a_key_file_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError) as exc:
        load_key(None, {})
    assert exc.value.exit_code == 2
    assert "tce keygen" in exc.value.hint
    with pytest.raises(KeyFileError):
        load_key(tmp_path / "absent.key", {})


@pytest.mark.parametrize("text", ["", "abcd", "zz" * 10, "ab" * 31, "not a key!"])
def test_short_or_malformed_key_is_refused_without_quoting_it(text: str) -> None:
    with pytest.raises(KeyFileError) as exc:
        parse_key(text, source="test")
    if text:
        assert text not in exc.value.message


def test_fingerprint_is_stable_short_and_not_the_key() -> None:
    fp = key_fingerprint(KEY)
    assert fp == key_fingerprint(KEY) != key_fingerprint(bytes(32))
    assert fp.startswith("sha256:") and len(fp) == len("sha256:") + 16
    assert fp[7:] not in hashlib.sha256(KEY).hexdigest()


def test_generate_key_mode_0600_and_loadable(tmp_path: Path) -> None:
    path = tmp_path / "tce.key"
    fingerprint = generate_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = load_key(path, {})
    assert len(key) == 32 and key_fingerprint(key) == fingerprint


def test_generate_key_refuses_overwrite_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "tce.key"
    first = generate_key(path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError):
        generate_key(path)
    assert path.read_bytes() == before
    second = generate_key(path, force=True)
    assert second != first and path.read_bytes() != before
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
