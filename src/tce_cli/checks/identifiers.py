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


def _nth_digit(number: pl.Expr, i: int, width: int) -> pl.Expr:
    """The ``i``-th (0-based, from the left) digit of a ``width``-digit ``number``."""
    divisor: int = 10 ** (width - 1 - i)
    return (number // divisor) % 10


def nhs_valid(digits: pl.Expr) -> pl.Expr:
    """True where ``digits`` (spaces/hyphens already removed) is 10 digits passing Modulus 11."""
    shape = digits.str.contains(r"^\d{10}$")
    # Fast path: ten ASCII digits read as one integer; Modulus 11 holds exactly when the digits
    # weighted 10, 9, ..., 2, 1 sum to a multiple of 11 (a check digit of 10 can never match).
    # Text the integer cast refuses (non-ASCII digits) keeps the per-character rule.
    ascii_ = digits.str.len_bytes() == digits.str.len_chars()
    number = pl.when(ascii_).then(digits).cast(pl.UInt64, strict=False)
    terms = [_nth_digit(number, i, 10) * (10 - i) for i in range(10)]
    weighted = pl.sum_horizontal(terms, ignore_nulls=False)
    by_character = _nhs_by_character(pl.when(~ascii_).then(digits))
    return shape & pl.coalesce(weighted % 11 == 0, by_character)


def _nhs_by_character(digits: pl.Expr) -> pl.Expr:
    total = pl.sum_horizontal([_digit(digits, i) * w for i, w in enumerate(NHS_WEIGHTS)])
    check = 11 - total % 11
    check = pl.when(check == 11).then(0).otherwise(check)
    return (check != 10) & (check == _digit(digits, 9))


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


_UPN_LETTER = {c: i for i, c in enumerate(UPN_LETTERS)}
_UPN_LAST = {str(d): d for d in range(10)} | _UPN_LETTER


def upn_valid(upn: pl.Expr) -> pl.Expr:
    """True where ``upn`` (upper-cased, no spaces) has the DfE UPN shape and check letter."""
    shape = upn.str.contains(r"^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$")
    # Characters 2-12 are digits wherever the shape passes: read them as one integer, and
    # compare letters by their place in UPN_LETTERS (the shape admits only those letters).
    middle = upn.str.slice(1, 11).cast(pl.UInt64, strict=False)
    last = upn.str.slice(12, 1).replace_strict(_UPN_LAST, default=None, return_dtype=pl.UInt64)
    parts = [_nth_digit(middle, pos - 2, 11) * pos for pos in range(2, 13)] + [last * 13]
    remainder = pl.sum_horizontal(parts) % 23
    first = upn.str.slice(0, 1).replace_strict(_UPN_LETTER, default=None, return_dtype=pl.UInt64)
    return shape & (first == remainder)


def postcode_valid(postcode: pl.Expr) -> pl.Expr:
    """True where the upper-cased, space-free ``postcode`` has a valid UK shape."""
    return postcode.str.contains(POSTCODE)


def postcode_district(postcode: pl.Expr) -> pl.Expr:
    """Outward code (district) of a valid, space-free postcode: all but the last 3 characters."""
    return pl.when(postcode_valid(postcode)).then(
        postcode.str.slice(0, postcode.str.len_chars() - 3)
    )
