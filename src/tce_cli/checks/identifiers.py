"""Vectorised validity tests for identifiers: NHS number (Modulus 11), UPN check letter,
LA child id and UK postcode shape (domain §2.7, §3)."""

from __future__ import annotations

import polars as pl

NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
POSTCODE = r"^([A-Z][A-HJ-Y]?[0-9][A-Z0-9]?[0-9][A-Z]{2}|GIR0AA)$"
LA_CHILD_ID = r"^[A-Za-z0-9]{1,20}$"


def _digit(expr: pl.Expr, i: int) -> pl.Expr:
    return expr.str.slice(i, 1).cast(pl.Int64, strict=False)


def nhs_valid(digits: pl.Expr) -> pl.Expr:
    """True where ``digits`` (spaces/hyphens already removed) is 10 digits passing Modulus 11."""
    total = pl.sum_horizontal([_digit(digits, i) * w for i, w in enumerate(NHS_WEIGHTS)])
    check = 11 - total % 11
    check = pl.when(check == 11).then(0).otherwise(check)
    shape = digits.str.contains(r"^\d{10}$")
    return shape & (check != 10) & (check == _digit(digits, 9))


def nhs_problem(digits: pl.Expr) -> pl.Expr:
    """Plain-English description of what is wrong with an NHS number (never the number)."""
    n = digits.str.len_chars()
    return (
        pl.when(digits.str.contains(r"[^0-9]"))
        .then(pl.lit("contains characters other than digits"))
        .when(n != 10)
        .then(pl.format("has {} digits (needs 10)", n))
        .otherwise(pl.lit("has 10 digits but the check digit is wrong"))
    )


def nhs_test_range(digits: pl.Expr) -> pl.Expr:
    return digits.str.starts_with("999")


def upn_valid(upn: pl.Expr) -> pl.Expr:
    """True where ``upn`` (upper-cased, no spaces) has the DfE UPN shape and check letter."""
    shape = upn.str.contains(r"^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$")
    last = upn.str.slice(12, 1)
    letter_value = pl.lit(None, dtype=pl.Int64)
    for i, letter in enumerate(UPN_LETTERS):
        letter_value = pl.when(last == letter).then(pl.lit(i)).otherwise(letter_value)
    last_value = pl.coalesce(last.cast(pl.Int64, strict=False), letter_value)
    parts = [_digit(upn, pos - 1) * pos for pos in range(2, 13)] + [last_value * 13]
    remainder = pl.sum_horizontal(parts) % 23
    expected = pl.lit(UPN_LETTERS).str.slice(remainder, 1)
    return shape & (upn.str.slice(0, 1) == expected)


def postcode_valid(postcode: pl.Expr) -> pl.Expr:
    """True where the upper-cased, space-free ``postcode`` has a valid UK shape."""
    return postcode.str.contains(POSTCODE)


def postcode_district(postcode: pl.Expr) -> pl.Expr:
    """Outward code (district) of a valid, space-free postcode: all but the last 3 characters."""
    return pl.when(postcode_valid(postcode)).then(
        postcode.str.slice(0, postcode.str.len_chars() - 3)
    )
