"""The Intelligence Framework schema (v1), loaded from ``data/schema_v1.yaml`` into typed models.

This is the one source of truth for fields, types, code lists, aliases and derived fields:
checks, harmonising, exports and reports all read it from here.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from importlib import resources
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from tce_cli import yamlio

if TYPE_CHECKING:
    import polars as pl

SCHEMA_VERSION = "1.0"


class FieldType(StrEnum):
    STRING = "string"
    CODE = "code"
    CODE_LIST = "code_list"
    DATE = "date"
    INTEGER = "integer"
    BOOLEAN = "boolean"


class Role(StrEnum):
    INPUT = "input"
    SHARED = "shared"
    SYSTEM = "system"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SchemaField(_Frozen):
    """One field of the framework record."""

    name: str
    label: str = ""
    role: Role
    type: FieldType
    required: Literal["Y", "N", "C"]
    codes: str | None = None
    pattern: str | None = None
    min: int | None = None
    max: int | None = None
    condition: str | None = None
    completeness: float | None = Field(
        default=None, description="Minimum % of rows populated before a completeness query."
    )
    personal: bool = False
    description: str = ""

    @property
    def mappable(self) -> bool:
        """True when an agency mapping can supply this field."""
        return self.role in (Role.INPUT, Role.SHARED)


class DerivedField(_Frozen):
    name: str
    type: FieldType
    codes: str | None = None
    description: str = ""


class Schema(_Frozen):
    """The whole framework schema: fields, code lists and lookups."""

    version: str
    name: str
    code_lists: dict[str, dict[str, str]]
    aliases: dict[str, dict[str, str]]
    ethnicity_major_groups: dict[str, str]
    la_dfe_codes: dict[str, str]
    fields: tuple[SchemaField, ...]
    derived: tuple[DerivedField, ...]

    def field(self, name: str) -> SchemaField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def mappable_fields(self) -> tuple[SchemaField, ...]:
        return tuple(f for f in self.fields if f.mappable)

    @property
    def shared_fields(self) -> tuple[SchemaField, ...]:
        """Fields written to the harmonised store (everything but input-only identifiers)."""
        return tuple(f for f in self.fields if f.role is not Role.INPUT)

    def codes(self, field_name: str) -> dict[str, str]:
        """The code -> label list of a code field (empty for other fields)."""
        f = self.field(field_name)
        return self.code_lists[f.codes] if f.codes else {}

    def aliases_for(self, field_name: str) -> dict[str, str]:
        """Built-in recodes (upper-case source -> code) applied before checking a code field."""
        f = self.field(field_name)
        return self.aliases.get(f.codes, {}) if f.codes else {}


IDENTIFIER_PRIORITY: tuple[tuple[str, str], ...] = (
    ("nhs_number", "NHS"),
    ("upn", "UPN"),
    ("la_child_id", "LA_ID"),
    ("agency_person_id", "AGENCY_ID"),
)
"""(field, person_key_basis) in the order the person key is derived (domain §5)."""

AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("Under 10", 0, 9),
    ("10-12", 10, 12),
    ("13-15", 13, 15),
    ("16-17", 16, 17),
    ("18+", 18, 200),
)


@functools.cache
def load_schema() -> Schema:
    """Load the packaged v1 schema (cached)."""
    text = resources.files("tce_cli").joinpath("data/schema_v1.yaml").read_text("utf-8")
    return Schema.model_validate(yamlio.parse(text))


def polars_dtype(field_type: FieldType) -> pl.DataType:
    """The Polars dtype a field of ``field_type`` has in the harmonised store."""
    import polars as pl

    return {
        FieldType.STRING: pl.String(),
        FieldType.CODE: pl.String(),
        FieldType.CODE_LIST: pl.List(pl.String()),
        FieldType.DATE: pl.Date(),
        FieldType.INTEGER: pl.Int64(),
        FieldType.BOOLEAN: pl.Boolean(),
    }[field_type]
