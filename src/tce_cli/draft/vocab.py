"""The drafting vocabulary: header synonyms and value aliases from ``data/synonyms.yaml``."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

from tce_cli import yamlio
from tce_cli.draft.headers import HeaderScorer
from tce_cli.schema import load_schema


@dataclass(frozen=True)
class Vocabulary:
    """Synonyms and aliases used to draft a mapping (see data/synonyms.yaml)."""

    headers: dict[str, tuple[str, ...]]
    """framework field -> header synonyms."""
    person_id_headers: tuple[str, ...]
    council_agency_types: tuple[str, ...]
    abbreviations: dict[str, str]
    ignore_headers: dict[str, tuple[str, ...]]
    """reason -> headers of personal or free-text columns."""
    flag_words: tuple[str, ...]
    values: dict[str, dict[str, str]]
    """code list -> source value -> code."""
    schemes: dict[str, dict[str, dict[str, str]]]
    """code list -> scheme name -> source value -> code (used only where a column fits it)."""
    agency_type_words: dict[str, tuple[str, ...]]

    def field_synonyms(self, field: str, agency_type: str) -> tuple[str, ...]:
        """Header synonyms of ``field``, with generic person ids given to the id this agency
        type keeps (the LA child id in a council's export, the agency's own id elsewhere)."""
        own = self.headers.get(field, ())
        council = agency_type in self.council_agency_types
        wanted = "la_child_id" if council else "agency_person_id"
        return own + self.person_id_headers if field == wanted else own


def _strings(items: Any, where: str) -> tuple[str, ...]:
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ValueError(f"synonyms.yaml: {where} must be a list of text")
    return tuple(items)


def _text_map(items: Any, where: str) -> dict[str, str]:
    if not isinstance(items, dict):
        raise ValueError(f"synonyms.yaml: {where} must be a mapping")
    out = {}
    for key, value in items.items():
        if isinstance(key, bool) or isinstance(value, bool):
            raise ValueError(f"synonyms.yaml: {where}: quote yes/no words ({key!r})")
        out[str(key)] = str(value)
    return out


def _aliases(codes: dict[str, str], items: Any, where: str) -> dict[str, str]:
    table = _text_map(items, where)
    bad = sorted(v for v in table.values() if v not in codes)
    if bad:
        raise ValueError(f"synonyms.yaml: {where}: unknown codes {bad}")
    return table


def parse_vocabulary(data: dict[str, Any]) -> Vocabulary:
    """Check and convert parsed synonyms.yaml; every alias must name a real code."""
    schema = load_schema()
    values = {
        name: _aliases(schema.code_lists[name], table, f"values.{name}")
        for name, table in data["values"].items()
    }
    schemes = {
        name: {
            scheme: _aliases(schema.code_lists[name], table, f"value_schemes.{name}.{scheme}")
            for scheme, table in tables.items()
        }
        for name, tables in data["value_schemes"].items()
    }
    unknown = set(data["headers"]) - {f.name for f in schema.mappable_fields}
    if unknown:
        raise ValueError(f"synonyms.yaml: headers for unknown fields {sorted(unknown)}")
    return Vocabulary(
        headers={k: _strings(v, f"headers.{k}") for k, v in data["headers"].items()},
        person_id_headers=_strings(data["person_id_headers"], "person_id_headers"),
        council_agency_types=_strings(data["council_agency_types"], "council_agency_types"),
        abbreviations=_text_map(data["abbreviations"], "abbreviations"),
        ignore_headers={
            k: _strings(v, f"ignore_headers.{k}") for k, v in data["ignore_headers"].items()
        },
        flag_words=_strings(data["flag_words"], "flag_words"),
        values=values,
        schemes=schemes,
        agency_type_words={
            k: _strings(v, f"agency_type_words.{k}") for k, v in data["agency_type_words"].items()
        },
    )


@functools.cache
def load_vocabulary() -> Vocabulary:
    """Load the packaged drafting vocabulary (cached)."""
    text = resources.files("tce_cli").joinpath("data/synonyms.yaml").read_text("utf-8")
    return parse_vocabulary(yamlio.parse(text))


@functools.cache
def header_scorer() -> HeaderScorer:
    """The shared header scorer (it remembers scores across calls)."""
    return HeaderScorer(load_vocabulary().abbreviations)
