"""Write a Draft as commented YAML that parses back to exactly ``Draft.mapping_data()``.

Scalars are written plain when YAML reads them back unchanged, otherwise double-quoted (JSON
string syntax is valid YAML), so ``Yes``, ``01`` or ``a) Male`` stay text.
"""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

import yaml

from tce_cli.draft.model import Draft, FieldDraft
from tce_cli.schema import load_schema

WIDTH = 100
_YAML11_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
"""Words some YAML readers take for booleans or null: always quoted."""
_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .()/&'+-]*$")


def scalar(value: Any) -> str:
    """A YAML scalar that reads back as ``value`` (text stays text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if (
        _PLAIN.match(text)
        and not text.endswith(" ")
        and text.lower() not in _YAML11_WORDS
        and _reads_back(text)
    ):
        return text
    return quote(text)


_UNPRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")
"""Characters YAML will not read raw (or reads as line breaks); JSON leaves them raw."""


def quote(text: str) -> str:
    """A double-quoted YAML scalar (JSON string syntax, non-printables escaped)."""
    return _UNPRINTABLE.sub(
        lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False)
    )


def _reads_back(text: str) -> bool:
    try:
        return bool(yaml.safe_load(text) == text)
    except yaml.YAMLError:
        return False


def flow_list(items: list[str]) -> str:
    return "[" + ", ".join(quote(i) for i in items) + "]"


def _comment(text: str, indent: int) -> list[str]:
    pad = " " * indent
    one_line = " ".join(text.split())
    return textwrap.wrap(
        one_line,
        width=WIDTH,
        initial_indent=f"{pad}# ",
        subsequent_indent=f"{pad}#   ",
        break_on_hyphens=False,
        break_long_words=False,
    )


def _with_note(line: str, note: str | None) -> str:
    return f"{line}  # {' '.join(note.split())}" if note else line


def render(draft: Draft, *, command: str = "tce mapping init") -> str:
    """The draft as YAML text (deterministic: the same draft gives the same bytes)."""
    lines = _header(draft, command)
    lines.append("agency:")
    for key, value in draft.agency.items():
        lines.append(_with_note(f"  {key}: {scalar(value)}", draft.agency_notes.get(key)))
    lines.append("source:")
    for key, value in draft.source.items():
        lines.append(_with_note(f"  {key}: {scalar(value)}", draft.source_notes.get(key)))
    lines.append("fields:")
    for f in draft.fields:
        lines += _field(f)
    optional = [f.name for f in draft.fields if f.spec is None and f.required == "N"]
    if optional:
        lines += _comment("Optional fields not found in this file: " + ", ".join(optional), 2)
    lines += _ignore(draft)
    if draft.options:
        lines.append("options:")
        for key, value in draft.options.items():
            lines.append(_with_note(f"  {key}: {scalar(value)}", draft.options_notes.get(key)))
    return "\n".join(lines) + "\n"


def _header(draft: Draft, command: str) -> list[str]:
    cov = draft.coverage()
    src = draft.source
    where = f"{str(src['format']).upper()}" + (
        f", sheet '{src['sheet']}'" if "sheet" in src else ""
    )
    missing = cov["required_unmatched"]
    todos = draft.all_todos()
    text = [
        f"Draft mapping for {draft.agency['name']}, written by `{command}` from {draft.sample} "
        f"({where}, header on row {src['header_row']}, {draft.rows} data rows, "
        f"{len(draft.columns)} columns).",
        f"Coverage: required fields matched {cov['required_matched']}/{cov['required_total']}"
        + (f" (not found: {', '.join(missing)})" if missing else "")
        + f"; identifiers: {', '.join(cov['identifiers']) or 'none'}; values recoded: "
        f"{cov['values_recoded_share']:.0%} of {cov['values_distinct']} distinct code values "
        f"({cov['rows_recoded_share']:.0%} of rows).",
        f"{len(todos)} TODO(s): search for TODO, decide each, then run "
        f"'tce mapping check THIS_FILE --sample {draft.sample}'.",
    ]
    text += [f"TODO: {todo}" for todo in draft.todos]
    return [line for t in text for line in _comment(t, 0)]


def _field(f: FieldDraft) -> list[str]:
    label = load_schema().field(f.name).label
    req = {"Y": "required", "C": "conditional", "N": "optional"}[f.required]
    if f.spec is None:
        if not f.todos:
            return []
        out = _comment(f"TODO: {f.name} ({label}, {req}): {f.todos[0]}", 2)
        return [*out, f"  # {f.name}: {f.example}"]
    out = _comment(f"{label} ({req}): {_origin(f)}", 2)
    for alt, score in f.alternatives:
        out += _comment(f"TODO: close alternative: '{alt}' ({score:.2f}); pick one", 2)
    for note in f.notes:
        out += _comment(note, 2)
    for todo in f.todos:
        out += _comment(f"TODO: {todo}", 2)
    if set(f.spec) == {"column"}:
        return [*out, *_value_todos(f, indent=2), f"  {f.name}: {scalar(f.spec['column'])}"]
    out.append(f"  {f.name}:")
    for key, value in f.spec.items():
        out += _spec_entry(key, value, f)
        if key == ("values" if "values" in f.spec else "column"):
            out += _value_todos(f, indent=6 if key == "values" else 4)
    return out


def _origin(f: FieldDraft) -> str:
    if f.source == "constant":
        return f"{f.how}, confidence {f.confidence:.2f}"
    cols = ", ".join(f"'{c}'" for c in f.columns)
    return f"{cols}, confidence {f.confidence:.2f}: {f.how}"


def _spec_entry(key: str, value: Any, f: FieldDraft) -> list[str]:
    if isinstance(value, dict):
        lines = [f"    {key}:"]
        for k, v in value.items():
            note = f.value_notes.get(k) if key == "values" else None
            lines.append(_with_note(f"      {scalar(k)}: {scalar(v)}", note))
        return lines
    if isinstance(value, list):
        return [f"    {key}: {flow_list([str(v) for v in value])}"]
    return [f"    {key}: {scalar(value)}"]


def _value_todos(f: FieldDraft, indent: int) -> list[str]:
    return [line for todo in f.value_todos for line in _comment(f"TODO: {todo}", indent)]


def _ignore(draft: Draft) -> list[str]:
    if not draft.ignored:
        return ["ignore: []"]
    lines = ["ignore:"]
    for col in draft.ignored:
        lines.append(_with_note(f"  - {scalar(col.column)}", col.reason))
    return lines
