"""Write the mapping entry of one framework field from the column chosen for it: recodes for
code fields, formats for dates, yes/no recodes for counts, and TODOs where a person decides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from tce_cli.draft.assign import PAIR, Assignment, Candidate
from tce_cli.draft.dates import describe, infer_date_formats
from tce_cli.draft.detect import ColumnProfile, recode_column
from tce_cli.draft.model import MAX_LISTED, FieldDraft, shown
from tce_cli.draft.values import Coding, distinct_counts, matcher, value_key
from tce_cli.mapping import DEFAULT_TRUE_VALUES
from tce_cli.schema import FieldType, SchemaField, load_schema
from tce_cli.transform import FALSE_FLAG_VALUES
from tce_cli.transform import _norm_text as transform_key

_INTEGER = r"^\d+(\.0+)?$"
COUNCIL_TYPES = ("LA_CSC", "LA_EARLY_HELP")


@dataclass(frozen=True)
class Context:
    """What every field's entry is written from."""

    profiles: dict[str, ColumnProfile]
    assignment: Assignment
    agency: dict[str, str]
    date_order: str = ""
    """'day-first' or 'month-first' when the file's date columns decide it, else ''."""


def field_draft(f: SchemaField, ctx: Context) -> FieldDraft:
    """The mapping entry for ``f`` (or a TODO when nothing in the file fills it)."""
    cand = ctx.assignment.chosen.get(f.name)
    if cand is None:
        return _unmatched(f, ctx)
    base: dict[str, Any] = {
        "name": f.name,
        "required": f.required,
        "columns": cand.columns,
        "confidence": cand.score,
        "how": cand.how,
        "alternatives": tuple(
            (" + ".join(a.columns), a.score) for a in ctx.assignment.alternatives.get(f.name, ())
        ),
        "is_code": f.type in (FieldType.CODE, FieldType.CODE_LIST),
    }
    if cand.flags:
        return _flags(f, cand, ctx, base)
    p = ctx.profiles[cand.column]
    if f.type in (FieldType.CODE, FieldType.CODE_LIST):
        return _code(f, p, ctx, base)
    if f.type is FieldType.DATE:
        return _date(p, base, ctx.date_order)
    if f.type is FieldType.INTEGER:
        return _integer(p, base)
    return _plain(f, p, base)


def _rows(n: int) -> str:
    return f"{n} row{'s' if n != 1 else ''}"


def _cells(n: int) -> str:
    return f"{n} filled cell{'s' if n != 1 else ''}"


def _shown(value: str) -> str:
    text = shown(value)
    return f'"{text}"' if text == value else text


# --------------------------------------------------------------------------- code fields


def _coding(f: SchemaField, p: ColumnProfile, ctx: Context) -> tuple[Coding, str | None]:
    """The coding of ``f``'s column and the 'take' rule (primary type reusing the types)."""
    types, primary = PAIR
    if ctx.assignment.reused.get(f.name) == types:
        return p.coding(types, True, fuzzy=True), "first"
    coding = p.coding(f.name, f.type is FieldType.CODE_LIST, fuzzy=True)
    take = "first" if f.type is FieldType.CODE and coding.split else None
    return coding, take


def _code(f: SchemaField, p: ColumnProfile, ctx: Context, base: dict[str, Any]) -> FieldDraft:
    coding, take = _coding(f, p, ctx)
    recodes = recode_column(f.name, p, coding)
    values: dict[str, str] = {}
    value_notes: dict[str, str] = {}
    seen: set[str] = set()
    for r in recodes:
        key = transform_key(r.source)
        if not r.matched or r.builtin or key in seen:
            continue
        seen.add(key)
        values[r.source] = r.code or ""
        conf = f" ({r.confidence:.2f})" if r.confidence < 0.9 else ""
        value_notes[r.source] = f"{r.how}{conf}, {_rows(r.rows)}"
    spec: dict[str, Any] = {"column": p.name}
    if values:
        spec["values"] = values
    if coding.split:
        spec["split"] = coding.split
    if take:
        spec["take"] = take
    notes = _code_notes(recodes, coding, take, ctx.assignment.reused.get(f.name))
    unmatched = [r for r in recodes if not r.matched]
    todos = [
        f"{_shown(r.source)} ({_rows(r.rows)}) matches no {f.label.lower()} code: "
        "add it under values with the right code, or leave it to be queried"
        for r in unmatched[:MAX_LISTED]
    ]
    if len(unmatched) > MAX_LISTED:
        rest = unmatched[MAX_LISTED:]
        todos.append(
            f"{len(rest)} more values ({_rows(sum(r.rows for r in rest))}) match no "
            f"{f.label.lower()} code: is '{p.name}' the right column?"
        )
    share = sum(r.rows for r in recodes if r.matched) / max(1, sum(r.rows for r in recodes))
    how = f"{base['how']}; {share:.0%} of values recoded"
    return FieldDraft(
        **{**base, "how": how},
        spec=spec,
        notes=notes,
        value_todos=tuple(todos),
        value_notes=value_notes,
        recodes=tuple(recodes),
    )


def _code_notes(
    recodes: list[Any], coding: Coding, take: str | None, reused: str | None
) -> tuple[str, ...]:
    notes = []
    if reused:
        notes.append(f"same column as {reused}")
    if coding.scheme:
        notes.append(f"values read as {coding.scheme} codes")
    if coding.split:
        notes.append(f"several values per cell, separated by '{coding.split}'")
    if take:
        notes.append("the first value listed is taken as the main one")
    known = [r.source for r in recodes if r.builtin]
    if known:
        shown = ", ".join(known[:12]) + (f" and {len(known) - 12} more" if len(known) > 12 else "")
        notes.append(f"understood without a recode: {shown}")
    return tuple(notes)


def _flags(f: SchemaField, cand: Candidate, ctx: Context, base: dict[str, Any]) -> FieldDraft:
    truthy = {transform_key(v) for v in DEFAULT_TRUE_VALUES}
    falsy = {transform_key(v) for v in FALSE_FLAG_VALUES}
    extra: list[str] = []
    todos: list[str] = []
    yes_no = matcher("youth_justice_involvement")
    for col in cand.columns:
        for value, n in distinct_counts(ctx.profiles[col].series):
            key = transform_key(value)
            if key in truthy or key in falsy or value in extra:
                continue
            if yes_no.match(value, fuzzy=False).code == "Y":
                extra.append(value)
            else:
                todos.append(f"'{col}' holds {_shown(value)} ({_rows(n)}): is it yes or no?")
    spec: dict[str, Any] = {"flags": dict(cand.flags)}
    notes = ["one yes/no column per code; a row gets every code whose column says yes"]
    if extra:
        spec["true_values"] = [*DEFAULT_TRUE_VALUES, *sorted(extra)]
        notes.append("true_values extended with this file's other words for yes")
    return FieldDraft(**base, spec=spec, notes=tuple(notes), todos=tuple(todos))


# --------------------------------------------------------------------------- other types


def _date(p: ColumnProfile, base: dict[str, Any], file_order: str) -> FieldDraft:
    inf = p.dates
    assumed = inf.order == "day-first (assumed)"
    if assumed and file_order == "month-first":
        inf = infer_date_formats(p.series, order="month-first")
    spec: dict[str, Any] = {"column": p.name}
    if inf.formats:
        spec["formats"] = list(inf.formats)
    notes = [describe(inf)] if inf.filled else ["empty in the sample: formats not inferred"]
    todos = []
    if inf.unreadable:
        todos.append(
            f"{_cells(inf.unreadable)} read as no date by any format: check them in the file"
        )
    for fmt, n in inf.left_out:
        todos.append(
            f"{_cells(n)} read only as {fmt}, too rare to keep: check them (add {fmt} to "
            "formats if they are right)"
        )
    if assumed and file_order:
        notes.append(f"no day or month above 12 here: {file_order}, like the file's other dates")
    elif assumed:
        todos.append("no day or month above 12 in the sample: day-first (UK) assumed; confirm")
    if any("%y" in fmt for fmt in inf.formats):
        notes.append("two-digit years are read as 1969-2068: check the century of old dates")
    return FieldDraft(**base, spec=spec, notes=tuple(notes), todos=tuple(todos))


def _integer(p: ColumnProfile, base: dict[str, Any]) -> FieldDraft:
    yes_no = matcher("youth_justice_involvement")
    values: dict[str, str] = {}
    value_notes: dict[str, str] = {}
    todos = []
    numbers = p.series.cast(pl.String).str.strip_chars().str.contains(_INTEGER).fill_null(True)
    words = [
        (v, n, yes_no.match(v, fuzzy=False).code)
        for v, n in distinct_counts(p.series.filter(~numbers))
    ]
    mostly_yes_no = sum(n for _, n, c in words if c in ("Y", "N")) >= 0.5 * max(1, p.filled)
    for value, n, code in words:
        if mostly_yes_no and code in ("Y", "N"):
            values[value] = "1" if code == "Y" else "0"
            value_notes[value] = f"yes/no word, {_rows(n)}"
        elif value_key(value) in ("N A", "NA", "NULL", "-"):
            values[value] = ""
            value_notes[value] = f"placeholder for blank, {_rows(n)}"
        else:
            todos.append(f"{_shown(value)} ({_rows(n)}) is not a whole number")
    spec: dict[str, Any] = {"column": p.name}
    if values:
        spec["values"] = values
    if any(v in ("0", "1") for v in values.values()):
        todos.insert(0, "a yes/no column: yes is counted as 1, no as 0; confirm with the agency")
    return FieldDraft(**base, spec=spec, todos=tuple(todos), value_notes=value_notes)


def _plain(f: SchemaField, p: ColumnProfile, base: dict[str, Any]) -> FieldDraft:
    notes: list[str] = []
    todos: list[str] = []
    checks = {
        "nhs_number": ("nhs", "pass the NHS number Modulus 11 check"),
        "home_postcode": ("postcode", "are UK postcodes"),
        "upn": ("upn", "are UPNs with a valid check letter"),
        "lsoa21_code": ("lsoa", "are LSOA 2021 codes"),
    }
    if f.name in checks and p.filled:
        stat, what = checks[f.name]
        notes.append(f"{p.share(stat):.0%} of {p.filled} filled cells {what}")
    if f.name == "record_id" and p.filled:
        repeats = p.filled - p.distinct
        if repeats:
            todos.append(f"{repeats} repeated values: a record id must be unique per row")
        else:
            notes.append(f"unique in all {p.filled} filled rows")
    spec: dict[str, Any] = {"column": p.name}
    return FieldDraft(**base, spec=spec, notes=tuple(notes), todos=tuple(todos))


# --------------------------------------------------------------------------- nothing found


def _unmatched(f: SchemaField, ctx: Context) -> FieldDraft:
    base: dict[str, Any] = {
        "name": f.name,
        "required": f.required,
        "is_code": f.type in (FieldType.CODE, FieldType.CODE_LIST),
    }
    if f.name == "local_authority_code":
        return _local_authority(f, ctx, base)
    if f.name == "csc_status" and ctx.agency["type"] not in COUNCIL_TYPES:
        todo = (
            "no children's social care status column: UNKNOWN is sent for every row, as "
            "an agency without access to CSC records does; name a column if there is one"
        )
        how = "constant: this agency type does not hold CSC records"
        return FieldDraft(
            **base, spec={"constant": "UNKNOWN"}, confidence=0.8, how=how, todos=(todo,)
        )
    if f.required == "N":
        return FieldDraft(**base, spec=None)
    closest = ctx.assignment.closest.get(f.name)
    hint = f" (closest: '{closest.column}', {closest.score:.2f})" if closest else ""
    example, todo = _suggestion(f, ctx, hint)
    return FieldDraft(**base, spec=None, todos=(todo,), example=example)


def _suggestion(f: SchemaField, ctx: Context, hint: str) -> tuple[str, str]:
    if f.name == "extract_date":
        return (
            '{constant: "YYYY-MM-DD"}',
            "the file has no extract date column: give the date the export was made "
            "as a constant (or ask the agency to add a column)",
        )
    if f.name == PAIR[1] and PAIR[0] in ctx.assignment.chosen:
        return (
            '{column: "..."}',
            "the exploitation types come from flag columns, which give no main type: "
            "name the column holding it, or ask the agency to add one",
        )
    return '{column: "..."}', f"no column found{hint}: name the column holding it"


def _local_authority(f: SchemaField, ctx: Context, base: dict[str, Any]) -> FieldDraft:
    org = ctx.agency["org_code"]
    names = load_schema().codes(f.name)
    if org in names and org != "OUT_OF_GM":
        todo = (
            f"no column names the child's local authority: every row is given {names[org]} "
            f"({org}, from --org-code); use a column instead if the file has children of "
            "other councils"
        )
        return FieldDraft(
            **base,
            spec={"constant": org},
            confidence=0.9,
            how="constant from --org-code (a GM council's GSS code)",
            todos=(todo,),
        )
    if f.required == "N":
        return FieldDraft(**base, spec=None)
    todo = (
        "no column names the child's local authority: add a column, or a constant "
        "(E08000001 ... E08000010, OUT_OF_GM) if every child belongs to one council"
    )
    return FieldDraft(**base, spec=None, todos=(todo,), example="{constant: E080000..}")
