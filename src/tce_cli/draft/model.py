"""The values a draft is made of: one FieldDraft per framework field, the ignored columns, and
the Draft itself with its coverage report (what ``--format json`` prints)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tce_cli.draft.values import Recode

MAX_LISTED = 20
"""Values not recoded listed per field (most rows first); the rest are counted."""
CODE_LIKE = re.compile(r"^[\w &/().,:;'+<>?-]{1,40}$")
"""Values short and plain enough to show in a report (code-field values only)."""


@dataclass(frozen=True)
class FieldDraft:
    """How the draft fills one framework field, and what a person must still decide."""

    name: str
    required: str
    spec: dict[str, Any] | None
    """The mapping entry (None: not found, left as a TODO comment)."""
    columns: tuple[str, ...] = ()
    confidence: float = 0.0
    how: str = ""
    alternatives: tuple[tuple[str, float], ...] = ()
    notes: tuple[str, ...] = ()
    """Comment lines written above the entry."""
    todos: tuple[str, ...] = ()
    value_todos: tuple[str, ...] = ()
    """TODOs about single values, written inside the entry beside its recodes."""
    value_notes: dict[str, str] = field(default_factory=dict)
    """Source value -> comment written after its recode."""
    recodes: tuple[Recode, ...] = ()
    example: str = ""
    """For an unmatched field: a commented-out entry to complete."""
    is_code: bool = False

    def unmatched(self) -> list[Recode]:
        """Values (or pieces) not recoded, most rows first."""
        return [r for r in self.recodes if not r.matched]

    @property
    def source(self) -> str | None:
        if self.spec is None:
            return None
        for key in ("flags", "constant", "column"):
            if key in self.spec:
                return key
        return None


@dataclass(frozen=True)
class IgnoredColumn:
    """A column left out of the mapping, and why."""

    column: str
    reason: str
    todo: bool = False


@dataclass(frozen=True)
class Draft:
    """A drafted mapping: what to write, and the coverage report."""

    sample: str
    agency: dict[str, str]
    agency_notes: dict[str, str]
    source: dict[str, Any]
    source_notes: dict[str, str]
    fields: tuple[FieldDraft, ...]
    ignored: tuple[IgnoredColumn, ...]
    options: dict[str, Any]
    options_notes: dict[str, str]
    rows: int
    columns: tuple[str, ...]
    todos: tuple[str, ...] = ()
    """Whole-file TODOs (e.g. no identifier column)."""

    def mapping_data(self) -> dict[str, Any]:
        """The mapping as plain data (what the YAML parses back to)."""
        data: dict[str, Any] = {
            "agency": dict(self.agency),
            "source": dict(self.source),
            "fields": {f.name: _short(f.spec) for f in self.fields if f.spec is not None},
            "ignore": [c.column for c in self.ignored],
        }
        if self.options:
            data["options"] = dict(self.options)
        return data

    def field(self, name: str) -> FieldDraft:
        return next(f for f in self.fields if f.name == name)

    def coverage(self) -> dict[str, Any]:
        """Required fields matched, identifiers found, share of code values recoded."""
        required = [f for f in self.fields if f.required == "Y"]
        matched = [f.name for f in required if f.spec is not None]
        ids = [
            f.name
            for f in self.fields
            if f.name in ("nhs_number", "upn", "la_child_id", "agency_person_id")
            and f.spec is not None
        ]
        recodes = [r for f in self.fields for r in f.recodes]
        good = [r for r in recodes if r.matched]
        rows = sum(r.rows for r in recodes)
        return {
            "required_total": len(required),
            "required_matched": len(matched),
            "required_unmatched": [f.name for f in required if f.spec is None],
            "identifiers": ids,
            "values_distinct": len(recodes),
            "values_recoded": len(good),
            "values_recoded_share": round(len(good) / len(recodes), 4) if recodes else 1.0,
            "rows_recoded_share": round(sum(r.rows for r in good) / rows, 4) if rows else 1.0,
        }

    def all_todos(self) -> list[str]:
        """Every TODO, whole-file ones first, then per field in schema order."""
        out = list(self.todos)
        out += [
            f"agency.{k}: {v.removeprefix('TODO: ')}"
            for k, v in self.agency_notes.items()
            if v.startswith("TODO")
        ]
        out += [f"{f.name}: {t}" for f in self.fields for t in (*f.todos, *f.value_todos)]
        out += [f"{c.column}: {c.reason}" for c in self.ignored if c.todo]
        return out

    def report(self) -> dict[str, Any]:
        """The coverage report: counts, matches and confidences; no cell values except
        short code-like values of code fields that were not recoded."""
        fields = [
            {
                "field": f.name,
                "required": f.required,
                "source": f.source,
                "columns": list(f.columns),
                "confidence": round(f.confidence, 2),
                "how": f.how,
                "alternatives": [{"column": c, "confidence": s} for c, s in f.alternatives],
            }
            for f in self.fields
        ]
        unmapped = [
            {"field": f.name, "value": shown(r.source), "rows": r.rows}
            for f in self.fields
            for r in f.unmatched()[:MAX_LISTED]
        ]
        return {
            "sample": {"file": self.sample, "rows": self.rows, "columns": len(self.columns)},
            "source": dict(self.source),
            "agency": dict(self.agency),
            "coverage": self.coverage(),
            "fields": fields,
            "unmapped_values": unmapped,
            "ignored": [{"column": c.column, "reason": c.reason} for c in self.ignored],
            "todos": self.all_todos(),
        }


def _short(spec: dict[str, Any]) -> str | dict[str, Any]:
    """``{column: X}`` is written ``X`` (the mapping shorthand)."""
    return str(spec["column"]) if set(spec) == {"column"} else dict(spec)


def shown(value: str) -> str:
    """A code-field value as a report may show it: short plain values as they are, anything
    longer or odder as its length only."""
    return value if CODE_LIKE.match(value) else f"(text of {len(value)} characters)"
