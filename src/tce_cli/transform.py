"""Apply an agency mapping to a raw table: find columns, recode values, parse dates and counts.

The result is a *mapped* frame, one row per source row, holding for each mapped framework
field ``f``:

- ``_raw_f``: the trimmed source text (null when blank), kept only so checks can tell
  "blank" from "present but unreadable"; it never leaves the process;
- ``f``: the parsed value in the framework type (code, list of codes, date, integer, string),
  null when blank or unreadable;
- ``_default_f`` (code fields with a mapping ``default``): true where the default was used;
- ``_anydate_f`` (date fields): the date any format could read, plausible or not, so checks
  can tell an unreadable date from an implausible one (a two-digit year read as year 10).

Everything is a Polars expression over the whole column: no Python loop over rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from tce_cli.mapping import FieldSpec, Mapping, normalise_header, resolve_column
from tce_cli.periods import Period
from tce_cli.schema import FieldType, Schema, load_schema

ROW = "_row"
DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
PLAUSIBLE_YEARS = (1990, 2100)
EXCEL_EPOCH = date(1899, 12, 30)
FALSE_FLAG_VALUES = ("N", "NO", "FALSE", "0", "")


def raw(name: str) -> str:
    """Column holding the trimmed source text of framework field ``name``."""
    return f"_raw_{name}"


def any_date(name: str) -> str:
    """Column holding the date any format read for ``name``, plausible or not."""
    return f"_anydate_{name}"


def defaulted(name: str) -> str:
    return f"_default_{name}"


@dataclass(frozen=True)
class Resolution:
    """Which source column each mapped field reads, and what is missing or left over."""

    columns: dict[str, tuple[str, ...]]
    """field -> source columns read (empty tuple for a constant)."""
    missing: dict[str, tuple[str, ...]]
    """field -> the column names the mapping expected but the file does not have."""
    unmapped: tuple[str, ...]
    """file columns neither mapped nor listed under ``ignore``."""
    mapped_fields: tuple[str, ...] = field(default=())


def resolve(mapping: Mapping, headers: list[str], duplicates: tuple[str, ...] = ()) -> Resolution:
    """Match the mapping's field specs to the file's headers.

    Columns the reader named itself (``(blank column N)``, ``(extra column N)``) and second
    copies of a duplicated header (``Name (2)``) are not listed as unmapped: the blank-header,
    ragged-row and duplicate-header findings already report them.
    """
    columns: dict[str, tuple[str, ...]] = {}
    missing: dict[str, tuple[str, ...]] = {}
    for name, spec in mapping.fields.items():
        if spec.constant is not None:
            columns[name] = ()
        elif spec.flags:
            found = [resolve_column(FieldSpec(column=c), headers) for c in spec.flags]
            absent = tuple(c for c, f in zip(spec.flags, found, strict=True) if f is None)
            if absent:
                missing[name] = absent
            else:
                columns[name] = tuple(f for f in found if f is not None)
        else:
            col = resolve_column(spec, headers)
            if col is None:
                missing[name] = spec.source_columns or (spec.pattern or "",)
            else:
                columns[name] = (col,)
    used = {normalise_header(c) for cols in columns.values() for c in cols}
    used |= {normalise_header(c) for c in mapping.ignore}
    unmapped = tuple(
        h for h in headers if normalise_header(h) not in used and not _reader_named(h, duplicates)
    )
    return Resolution(columns, missing, unmapped, tuple(columns))


_RENAMED = re.compile(r"^(.*) \((\d+)\)$")


def _reader_named(header: str, duplicates: tuple[str, ...]) -> bool:
    if header.startswith(("(blank column", "(extra column")):
        return True
    match = _RENAMED.match(header)
    return bool(match and match[1] in duplicates)


def _norm(expr: pl.Expr) -> pl.Expr:
    """Case-, space- and punctuation-spacing-insensitive comparison key for codes."""
    return expr.str.to_uppercase().str.replace_all(r"\s+", " ").str.strip_chars()


def _norm_text(text: str) -> str:
    return re.sub(r"\s+", " ", text.upper()).strip()


def recode_table(schema: Schema, name: str, spec: FieldSpec) -> dict[str, str]:
    """Normalised source value -> framework code: codes, labels, aliases, then the mapping's."""
    table: dict[str, str] = {}
    for code, label in schema.codes(name).items():
        table[_norm_text(label)] = code
    for code in schema.codes(name):
        table[_norm_text(code)] = code
    for alias, code in schema.aliases_for(name).items():
        table[_norm_text(alias)] = code
    for source, target in spec.values.items():
        table[_norm_text(source)] = target
    return table


def _source_text(spec: FieldSpec, cols: tuple[str, ...]) -> pl.Expr:
    if spec.constant is not None:
        return pl.lit(spec.constant, dtype=pl.String)
    if spec.flags:
        truthy = pl.any_horizontal(
            [pl.col(c).is_not_null() for c in cols]
        )  # any flag column filled in
        return pl.when(truthy).then(pl.lit("flags")).otherwise(None)
    return pl.col(cols[0])


def _blank_targets(spec: FieldSpec) -> list[str]:
    return [_norm_text(k) for k, v in spec.values.items() if v == ""]


def raw_expr(spec: FieldSpec, cols: tuple[str, ...]) -> pl.Expr:
    """Trimmed source text, null when blank or recoded to blank (e.g. 'n/a': '').

    A source column is taken as it is: the readers give every cell trimmed, empty cells as
    null (tce_cli.read), so trimming it again would only copy the column.
    """
    text = _source_text(spec, cols).cast(pl.String)
    if spec.constant is not None:
        text = text.str.strip_chars()
        text = pl.when(text == "").then(None).otherwise(text)
    blanks = _blank_targets(spec)
    if blanks:
        text = pl.when(_norm(text).is_in(blanks)).then(None).otherwise(text)
    return text


def _code_expr(name: str, spec: FieldSpec, raw_col: pl.Expr, schema: Schema) -> pl.Expr:
    table = recode_table(schema, name, spec)
    keys = _norm(raw_col)
    if spec.split is not None:
        pieces = raw_col.str.split(spec.split).list.eval(
            pl.element().str.strip_chars().filter(pl.element().str.strip_chars() != "")
        )
        recoded = pieces.list.eval(
            _norm(pl.element()).replace_strict(table, default=pl.lit("\x00invalid"))
        )
        if spec.take == "first":
            return recoded.list.first()
        return recoded
    return keys.replace_strict(table, default=pl.lit("\x00invalid"), return_dtype=pl.String)


def _flags_expr(spec: FieldSpec, cols: tuple[str, ...]) -> pl.Expr:
    assert spec.flags is not None
    truthy = {_norm_text(v) for v in spec.true_values}
    parts = [
        pl.when(_norm(pl.col(col).cast(pl.String).fill_null("")).is_in(sorted(truthy)))
        .then(pl.lit(code))
        .otherwise(None)
        for col, code in zip(cols, spec.flags.values(), strict=True)
    ]
    return pl.concat_list(parts).list.drop_nulls()


INVALID = "\x00invalid"
"""Marker a recode leaves where a value matched no code (checks turn it into a finding)."""


def _date_exprs(spec: FieldSpec, raw_col: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(plausible date, any date read) from the formats in order, then Excel serials."""
    formats = [*spec.formats, *(f for f in DEFAULT_DATE_FORMATS if f not in spec.formats)]
    lo, hi = PLAUSIBLE_YEARS
    parsed = [raw_col.str.strptime(pl.Date, fmt, strict=False) for fmt in formats]
    serial = raw_col.str.extract(r"^(\d{5})(?:\.0+)?$", 1).cast(pl.Int64, strict=False)
    parsed.append(pl.lit(EXCEL_EPOCH) + pl.duration(days=serial))
    plausible = [pl.when(p.dt.year().is_between(lo, hi)).then(p).otherwise(None) for p in parsed]
    return pl.coalesce(plausible), pl.coalesce(parsed)


def _integer_expr(raw_col: pl.Expr) -> pl.Expr:
    number = raw_col.str.replace(r"\.0+$", "").cast(pl.Int64, strict=False)
    return pl.when(number >= 0).then(number).otherwise(None)


def _recode_plain(spec: FieldSpec, raw_col: pl.Expr) -> pl.Expr:
    if not spec.values:
        return raw_col
    table = {_norm_text(k): v for k, v in spec.values.items() if v != ""}
    return _norm(raw_col).replace_strict(table, default=raw_col, return_dtype=pl.String)


def per_value(column: pl.Expr, build: Callable[[pl.Expr], pl.Expr]) -> pl.Expr:
    """``build(column)``, computed once per distinct value of ``column`` (text) and gathered
    for every row.

    An export repeats a few dozen codes over up to a million rows, so for codes (upper-casing,
    a regex and a recode table per value) this is about three times faster than running
    ``build`` row by row. It does not pay for cheap steps: the lookup itself costs about as
    much as one pass of a simple string operation. ``build`` must treat each value on its own.
    """
    # One extra value (whatever it is) keeps the list of distinct values from ever being
    # empty: Polars 2.1 returns the input unchanged, as text, for an empty lookup.
    distinct = column.append(pl.lit("", dtype=pl.String)).unique(maintain_order=True)
    index = pl.int_range(distinct.len(), dtype=pl.UInt32)
    return build(distinct).gather(column.replace_strict(distinct, index, return_dtype=pl.UInt32))


def field_exprs(name: str, spec: FieldSpec, cols: tuple[str, ...], schema: Schema) -> list[pl.Expr]:
    """Expressions producing ``_raw_<name>``, ``<name>`` and helper columns for one field."""
    ftype = schema.field(name).type
    raw_col = pl.col(raw(name))
    out: list[pl.Expr] = []
    if ftype in (FieldType.CODE, FieldType.CODE_LIST):
        value = (
            _flags_expr(spec, cols)
            if spec.flags
            else per_value(raw_col, lambda text: _code_expr(name, spec, text, schema))
        )
        if ftype is FieldType.CODE_LIST and not spec.flags and spec.split is None:
            value = pl.concat_list([value])
        if spec.default is not None and ftype is FieldType.CODE:
            used = raw_col.is_not_null() & (value == INVALID)
            out.append(used.fill_null(False).alias(defaulted(name)))
            value = pl.when(used).then(pl.lit(spec.default)).otherwise(value)
        out.append(pl.when(raw_col.is_not_null()).then(value).otherwise(None).alias(name))
    elif ftype is FieldType.DATE:
        plausible, anything = _date_exprs(spec, _recode_plain(spec, raw_col))
        out += [plausible.alias(name), anything.alias(any_date(name))]
    elif ftype is FieldType.INTEGER:
        out.append(_integer_expr(_recode_plain(spec, raw_col)).alias(name))
    else:
        out.append(_recode_plain(spec, raw_col).alias(name))
    return out


def normalise_identifiers(present: set[str]) -> list[pl.Expr]:
    """Canonical identifier text used for checks and pseudonyms (domain §5 normalisation)."""
    out = []
    if "nhs_number" in present:
        out.append(pl.col("nhs_number").str.replace_all(r"[\s-]", "").alias("nhs_number"))
    for name in ("upn", "la_child_id", "agency_person_id"):
        if name in present:
            out.append(pl.col(name).str.replace_all(r"\s", "").str.to_uppercase().alias(name))
    if "home_postcode" in present:
        out.append(
            pl.col("home_postcode")
            .str.to_uppercase()
            .str.replace_all(r"\s", "")
            .alias("home_postcode")
        )
    return out


def age_expr(dob: pl.Expr, at: date) -> pl.Expr:
    """Whole years from ``dob`` to ``at`` (birthday not yet reached counts down)."""
    before_birthday = pl.lit(at.month * 100 + at.day) < dob.dt.month().cast(
        pl.Int32
    ) * 100 + dob.dt.day().cast(pl.Int32)
    return (pl.lit(at.year) - dob.dt.year().cast(pl.Int64) - before_birthday.cast(pl.Int64)).cast(
        pl.Int64
    )


def apply_mapping(
    frame: pl.LazyFrame, mapping: Mapping, resolution: Resolution, period: Period
) -> pl.LazyFrame:
    """The mapped frame: ``_row``, raw text and parsed value of each mapped field, and age."""
    schema = load_schema()
    raws = [
        raw_expr(mapping.fields[name], cols).alias(raw(name))
        for name, cols in resolution.columns.items()
    ]
    lf = frame.select(pl.col(ROW), *raws, *_source_flag_columns(mapping, resolution))
    parsed: list[pl.Expr] = []
    for name, cols in resolution.columns.items():
        parsed += field_exprs(name, mapping.fields[name], _flag_aliases(name, cols), schema)
    lf = lf.with_columns(parsed)
    present = set(resolution.columns)
    lf = lf.with_columns(normalise_identifiers(present))
    if "date_of_birth" in present:
        lf = lf.with_columns(_age(period))
    return lf


def _age(period: Period) -> pl.Expr:
    return age_expr(pl.col("date_of_birth"), period.end).alias("_age")


def with_age(mapped: pl.DataFrame, period: Period) -> pl.DataFrame:
    """``mapped`` as ``apply_mapping`` would give it for ``period``: the age at the period end
    is the only column that depends on the period."""
    if "_age" not in mapped.columns:
        return mapped
    return mapped.lazy().with_columns(_age(period)).collect(engine="in-memory")


def _flag_aliases(name: str, cols: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"_flag_{name}_{i}" for i in range(len(cols)))


def _source_flag_columns(mapping: Mapping, resolution: Resolution) -> list[pl.Expr]:
    out = []
    for name, cols in resolution.columns.items():
        if mapping.fields[name].flags:
            out += [
                pl.col(c).alias(a) for c, a in zip(cols, _flag_aliases(name, cols), strict=True)
            ]
    return out
