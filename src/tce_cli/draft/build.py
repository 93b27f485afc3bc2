"""Build a Draft from a table read from a sample export: profile, match, recode, explain."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from tce_cli.draft import fields as field_specs
from tce_cli.draft.assign import (
    Assignment,
    Candidate,
    all_candidates,
    assign,
    header_match,
    personal_reason,
)
from tce_cli.draft.detect import ColumnProfile, profile_columns
from tce_cli.draft.model import Draft, FieldDraft, IgnoredColumn
from tce_cli.draft.vocab import Vocabulary, load_vocabulary
from tce_cli.errors import ConfigError
from tce_cli.read import RawTable, ReadInfo
from tce_cli.schema import SchemaField, load_schema
from tce_cli.transform import ROW

IDENTIFIERS = ("nhs_number", "upn", "la_child_id", "agency_person_id")
_PERIODISH = re.compile(
    r"\d{4}[-_ ]?\d{2}[-_ ]?Q[1-4]|\d{4}[-_]\d{2}[-_]\d{2}|\d{8}|\d{4}[-_]\d{2}|Q[1-4]|\d{2,}",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DraftOptions:
    """Who the agency is (anything not given is guessed and marked TODO)."""

    agency_id: str | None = None
    agency_name: str | None = None
    agency_type: str | None = None
    org_code: str | None = None


def draft_from_table(table: RawTable, options: DraftOptions) -> Draft:
    """Draft a mapping for the file ``table`` was read from.

    Raises:
        ConfigError: an invalid agency id or type in ``options``.
    """
    check_options(options)
    info = table.info
    vocab = load_vocabulary()
    agency, agency_notes = _agency(info.path, options, vocab)
    columns = [c for c in info.columns if not c.startswith("(extra")]
    blank_rows = pl.Series(ROW, info.blank_rows, dtype=pl.Int64)
    frame = table.frame.filter(~pl.col(ROW).is_in(blank_rows.implode()))
    profiles = profile_columns(frame, columns)
    fields = list(load_schema().mappable_fields)
    named = {c: p for c, p in profiles.items() if not c.startswith("(blank column")}
    personal = _personal(named, fields, vocab, agency["type"])
    matchable = {c: p for c, p in named.items() if c not in personal}
    candidates = all_candidates(fields, matchable, vocab, agency["type"])
    chosen = assign(candidates, [f.name for f in fields])
    context = field_specs.Context(profiles, chosen, agency, _date_order(matchable.values()))
    drafts = tuple(field_specs.field_draft(f, context) for f in fields)
    used = {c for d in drafts if d.spec is not None for c in d.columns}
    ignored = _ignored(columns, used, personal, chosen)
    todos = [] if any(d.spec for d in drafts if d.name in IDENTIFIERS) else [_NO_ID]
    opts, opt_notes = _options(drafts, profiles)
    return Draft(
        sample=info.path.name,
        agency=agency,
        agency_notes=agency_notes,
        source=_source(info),
        source_notes=_source_notes(info),
        fields=drafts,
        ignored=ignored,
        options=opts,
        options_notes=opt_notes,
        rows=frame.height,
        columns=tuple(columns),
        todos=tuple(todos),
    )


_NO_ID = (
    "no identifier column found (nhs_number, upn, la_child_id or agency_person_id): "
    "every row needs one to link the child across agencies"
)


def _date_order(profiles: Iterable[ColumnProfile]) -> str:
    """The day/month order the file's date columns agree on ('' when none decides it)."""
    orders = {p.dates.order for p in profiles if p.date_share() >= 0.5}
    if "day-first" in orders:
        return "" if "month-first" in orders else "day-first"
    return "month-first" if "month-first" in orders else ""


def _personal(
    profiles: dict[str, ColumnProfile], fields: list[SchemaField], vocab: Vocabulary, kind: str
) -> dict[str, str]:
    out = {}
    for name, p in profiles.items():
        best = max(header_match(name, f, vocab, kind).score for f in fields)
        reason = personal_reason(name, vocab, best, p)
        if reason is not None:
            out[name] = reason
    return out


def _ignored(
    columns: list[str], used: set[str], personal: dict[str, str], chosen: Assignment
) -> tuple[IgnoredColumn, ...]:
    rivals: dict[str, Candidate] = {}
    for alts in chosen.alternatives.values():
        for alt in alts:
            for col in alt.columns:
                if col not in rivals or alt.score > rivals[col].score:
                    rivals[col] = alt
    out = []
    for col in columns:
        if col in used:
            continue
        if col in personal:
            out.append(IgnoredColumn(col, personal[col]))
        elif col.startswith("(blank column"):
            out.append(IgnoredColumn(col, "TODO: a column without a header", todo=True))
        elif col in rivals:
            r = rivals[col]
            why = f"TODO: not matched to a framework field (could be {r.field}, {r.score:.2f})"
            out.append(IgnoredColumn(col, why, todo=True))
        else:
            out.append(IgnoredColumn(col, "TODO: not matched to a framework field", todo=True))
    return tuple(out)


def _options(
    drafts: tuple[FieldDraft, ...], profiles: dict[str, ColumnProfile]
) -> tuple[dict[str, Any], dict[str, str]]:
    nhs = next(d for d in drafts if d.name == "nhs_number")
    if nhs.spec is None or not nhs.columns:
        return {}, {}
    p = profiles[nhs.columns[0]]
    valid = round(p.share("nhs") * p.filled)
    if valid and p.share("nhs_test") == p.share("nhs"):
        note = (
            f"every valid NHS number in the sample ({valid}) is in the 999 test range, "
            "so this looks like test or training data; remove this for real returns"
        )
        return {"allow_test_nhs_numbers": True}, {"allow_test_nhs_numbers": note}
    return {}, {}


# --------------------------------------------------------------------------- agency, source


def check_options(options: DraftOptions) -> None:
    """Refuse an invalid agency id or type (before any file is read).

    Raises:
        ConfigError: naming the option and the valid choices.
    """
    from pydantic import ValidationError

    from tce_cli.mapping import Agency

    try:
        Agency(
            id=options.agency_id or "x",
            name="x",
            type=options.agency_type or "OTHER",
            org_code="x",
        )
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise ConfigError(
            f"{message}.",
            hint="Check --agency-id and --agency-type (see 'tce mapping init --help').",
        ) from None


def _agency(
    path: Path, options: DraftOptions, vocab: Vocabulary
) -> tuple[dict[str, str], dict[str, str]]:
    schema = load_schema()
    notes: dict[str, str] = {}
    stem = _PERIODISH.sub(" ", path.stem)
    agency_id = options.agency_id or _slug(stem)
    if options.agency_id is None:
        notes["id"] = "TODO: guessed from the file name; short, lower-case, hyphens"
    name = options.agency_name or " ".join(w.capitalize() for w in agency_id.split("-"))
    if options.agency_name is None:
        notes["name"] = "TODO: the agency's display name"
    kind = options.agency_type or _guess_type(stem, vocab)
    if options.agency_type is None:
        notes["type"] = (
            "TODO: guessed from the file name" if kind != "OTHER" else "TODO: choose the type"
        ) + f" ({', '.join(schema.code_lists['agency_type'])})"
    org = options.org_code or "TODO"
    if options.org_code is None:
        notes["org_code"] = "TODO: GSS code (councils, police), ODS code (NHS) or URN"
    return {"id": agency_id, "name": name, "type": kind, "org_code": org}, notes


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63].strip("-")
    return slug or "new-agency"


def _guess_type(stem: str, vocab: Vocabulary) -> str:
    text = f" {' '.join(re.sub(r'[^a-z0-9]+', ' ', stem.lower()).split())} "
    for kind, words in vocab.agency_type_words.items():
        if any(f" {w} " in text for w in words):
            return kind
    return "OTHER"


def match_pattern(name: str) -> str:
    """A file-name glob for later files like ``name``: dates, periods and numbers become *."""
    path = Path(name)
    stem = re.sub(r"\*+", "*", _PERIODISH.sub("*", path.stem))
    return f"{stem}{path.suffix.lower()}"


def _source(info: ReadInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"match": match_pattern(info.path.name), "format": info.format}
    if info.format == "csv" and info.delimiter not in (None, ","):
        out["delimiter"] = info.delimiter
    if info.sheet is not None:
        out["sheet"] = info.sheet
    out["header_row"] = info.header_row
    return out


def _source_notes(info: ReadInfo) -> dict[str, str]:
    notes = {"match": "file names this mapping applies to (dates and periods as *)"}
    if info.encoding:
        notes["format"] = f"encoding detected: {info.encoding} (tce detects it for each file)"
    title = info.header_row - 1
    notes["header_row"] = (
        f"found by itself below {title} title row(s); delete to let tce find it in every file"
        if title
        else "found by itself on the first row; delete to let tce find it in every file"
    )
    return notes
