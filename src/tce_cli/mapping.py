"""Agency mapping files (mappings/*.yaml): Pydantic models, loading and file matching.

A mapping says who the agency is, which files are theirs, how each framework field is found
in their export (a column, candidate columns, a header pattern, a constant, or a set of flag
columns), how their values recode to framework codes, which date formats they use, and which
columns are deliberately ignored. Unknown keys are rejected; every error names the file, the
key path and the valid choices.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tce_cli import yamlio
from tce_cli.errors import MappingError
from tce_cli.schema import FieldType, load_schema

_AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DEFAULT_TRUE_VALUES = ("Y", "YES", "TRUE", "1", "X", "✓")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _choices(values: Any, limit: int = 12) -> str:
    items = list(values)
    shown = ", ".join(str(v) for v in items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


class Agency(_Strict):
    """Who submits the file."""

    id: str = Field(description="Short lower-case id used in file and partition names.")
    name: str
    type: str = Field(description="Agency type code (LA_CSC, POLICE, HEALTH, VCS, ...).")
    org_code: str = Field(description="GSS, ODS, URN or registry code of the organisation.")

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _AGENCY_ID.fullmatch(value):  # match() would let "id\n" through
            raise ValueError(
                f"'{value}' is not a valid agency id (lower-case letters, digits and hyphens)"
            )
        return value

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        codes = load_schema().code_lists["agency_type"]
        if value not in codes:
            raise ValueError(f"'{value}' is not an agency type ({_choices(codes)})")
        return value


class Source(_Strict):
    """Which files belong to this mapping and how to read them."""

    match: str | list[str] = Field(description="File-name glob(s), case-insensitive.")
    format: Literal["csv", "xlsx"] | None = None
    encoding: Literal["auto", "utf-8", "utf-8-sig", "windows-1252", "latin-1"] = "auto"
    delimiter: Literal["auto", ",", ";", "\t", "|"] = "auto"
    sheet: str | int | None = None
    header_row: int | None = Field(default=None, ge=1, description="1-based; None = find it.")

    @property
    def patterns(self) -> tuple[str, ...]:
        return (self.match,) if isinstance(self.match, str) else tuple(self.match)


class FieldSpec(_Strict):
    """How one framework field is found and recoded in the agency's export."""

    column: str | None = None
    columns: list[str] | None = Field(default=None, description="Candidate names, first wins.")
    pattern: str | None = Field(default=None, description="Case-insensitive header regex.")
    constant: str | None = None
    flags: dict[str, str] | None = Field(
        default=None, description="Flag column -> code, for code lists kept as Y/N columns."
    )
    true_values: list[str] = Field(default_factory=lambda: list(DEFAULT_TRUE_VALUES))
    values: dict[str, str] = Field(default_factory=dict)
    default: str | None = None
    formats: list[str] = Field(default_factory=list)
    split: str | None = None
    take: Literal["first"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _coerce_scalars(cls, data: Any) -> Any:
        # YAML turns `Yes:` into True and `1:` into 1; recode keys and values are text.
        if isinstance(data, dict):
            data = dict(data)
            for key in ("values", "flags"):
                if isinstance(data.get(key), dict):
                    data[key] = {_text(k): _text(v) for k, v in data[key].items()}
            if "constant" in data and data["constant"] is not None:
                data["constant"] = _text(data["constant"])
            if isinstance(data.get("true_values"), list):
                data["true_values"] = [_text(v) for v in data["true_values"]]
            if isinstance(data.get("default"), bool | int | float):
                data["default"] = _text(data["default"])
        return data

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = [
            k for k in ("column", "columns", "pattern", "constant", "flags") if getattr(self, k)
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of column, columns, pattern, constant or flags"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression ({exc})") from None
        return self

    @property
    def source_columns(self) -> tuple[str, ...]:
        """Header names this spec may read (flags: every flag column)."""
        if self.column:
            return (self.column,)
        if self.columns:
            return tuple(self.columns)
        if self.flags:
            return tuple(self.flags)
        return ()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Options(_Strict):
    """Per-agency switches for checks."""

    allow_test_nhs_numbers: bool = Field(
        default=False,
        description="Accept 999 test-range NHS numbers without a query (example/training data).",
    )
    completeness: dict[str, float] = Field(
        default_factory=dict, description="Override completeness thresholds (%) per field."
    )
    extract_lag_working_days: int = Field(default=20, ge=0)


class Mapping(_Strict):
    """One agency export layout."""

    agency: Agency
    source: Source
    fields: dict[str, FieldSpec]
    ignore: list[str] = Field(default_factory=list)
    options: Options = Field(default_factory=Options)

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `la_child_id: "Child ID"` is short for `la_child_id: {column: "Child ID"}`.
        if isinstance(value, dict):
            return {k: ({"column": v} if isinstance(v, str) else v) for k, v in value.items()}
        return value

    @field_validator("fields")
    @classmethod
    def _known_fields(
        cls, value: dict[str, FieldSpec], info: ValidationInfo
    ) -> dict[str, FieldSpec]:
        schema = load_schema()
        mappable = {f.name: f for f in schema.mappable_fields}
        for name, spec in value.items():
            if name not in mappable:
                raise ValueError(
                    f"'{name}' is not a framework field that a mapping can fill "
                    f"(choose from {_choices(sorted(mappable), 50)})"
                )
            _check_spec(name, spec)
        return value

    @property
    def path_label(self) -> str:
        return self.agency.id


def _check_spec(name: str, spec: FieldSpec) -> None:
    schema = load_schema()
    field = schema.field(name)
    if field.type in (FieldType.CODE, FieldType.CODE_LIST):
        codes = schema.codes(name)
        targets: list[tuple[str, str]] = [(f"values.{k}", v) for k, v in spec.values.items()]
        if spec.flags:
            targets += [(f"flags.{k}", v) for k, v in spec.flags.items()]
        if spec.default is not None:
            targets.append(("default", spec.default))
        if spec.constant is not None and field.type is FieldType.CODE:
            targets.append(("constant", spec.constant))
        for where, code in targets:
            if code not in codes and code != "":
                raise ValueError(
                    f"{where}: '{code}' is not a {field.label or name} code ({_choices(codes)})"
                )
    elif spec.values or spec.flags:
        if spec.flags:
            raise ValueError("flags only apply to code-list fields such as exploitation_types")
        if field.type is FieldType.INTEGER:
            for src, target in spec.values.items():
                if not target.isdigit():
                    raise ValueError(f"values.{src}: '{target}' is not a whole number")
    if spec.default is not None and field.type is not FieldType.CODE:
        raise ValueError(
            "default only applies to single-code fields; list unrecognised values under values:"
        )
    if spec.formats and field.type is not FieldType.DATE:
        raise ValueError("formats only apply to date fields")
    for fmt in spec.formats:
        if "%" not in fmt:
            raise ValueError(f"formats: '{fmt}' is not a strftime format such as %d/%m/%Y")
    if spec.split is not None and field.type not in (FieldType.CODE_LIST, FieldType.CODE):
        raise ValueError("split only applies to code and code-list fields")


# --------------------------------------------------------------------------- loading


def _loc(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and p in _UNION_TAGS)]
    return ".".join(parts) or "(top level)"


_UNION_TAGS = {"str", "int", "list[str]", "FieldSpec", "function-after[_one_source(), FieldSpec]"}


def _messages(path: Path, exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = _loc(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown key '{err['loc'][-1]}'"
            loc = _loc(err["loc"][:-1])
            msg += f" (valid keys here: {_valid_keys(err['loc'][:-1])})"
        elif err["type"] == "missing":
            msg = "this key is required"
        out.append(f"{path}: {loc}: {msg}")
    return out


def _valid_keys(loc: tuple[int | str, ...]) -> str:
    model: type[BaseModel] = Mapping
    for part in loc:
        if model is Mapping and part == "fields":
            return _choices(sorted(f.name for f in load_schema().mappable_fields), 50)
        field = model.model_fields.get(str(part)) if isinstance(part, str) else None
        if field is None:
            if model is Mapping and len(loc) >= 2:
                model = FieldSpec
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif part == "fields":
            model = FieldSpec
    return ", ".join(model.model_fields)


def parse_mapping(data: Any, path: Path) -> Mapping:
    """Validate already-parsed YAML; raise MappingError naming file, key path and choices."""
    if not isinstance(data, dict):
        raise MappingError(
            f"{path}: the file must be a YAML mapping with agency, source and fields.",
            hint="See mappings/ for examples and the README section 'Mapping files'.",
        )
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        messages = _messages(path, exc)
        more = f" (+{len(messages) - 1} more problems)" if len(messages) > 1 else ""
        raise MappingError(
            messages[0] + more,
            hint=f"Fix the mapping and run 'tce mapping check {path}' to see every problem.",
        ) from None


def load_mapping(path: Path) -> Mapping:
    """Read and validate one mapping file."""
    return parse_mapping(_read_yaml(path), path)


def mapping_problems(path: Path) -> list[str]:
    """Every problem in a mapping file (empty when it is valid), for `tce mapping check`."""
    try:
        data = _read_yaml(path)
    except MappingError as exc:
        return [exc.message]
    if not isinstance(data, dict):
        return [f"{path}: the file must be a YAML mapping with agency, source and fields."]
    try:
        Mapping.model_validate(data)
    except ValidationError as exc:
        return _messages(path, exc)
    return []


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise MappingError(
            f"Mapping file not found: {path}",
            hint="Give the path to a mappings/*.yaml file, or run 'tce mapping init' to draft one.",
        )
    return yamlio.read(
        path,
        MappingError,
        hint="Check indentation and quoting at that line (values containing ':' need quotes).",
    )


def load_mappings(folder: Path) -> list[tuple[Path, Mapping]]:
    """Load every *.yaml / *.yml mapping in ``folder``, sorted by file name."""
    if not folder.is_dir():
        raise MappingError(
            f"Mappings folder not found: {folder}",
            hint="Pass --mappings DIR, or set mappings in tce.toml.",
        )
    paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    return [(p, load_mapping(p)) for p in paths]


def match_mapping(file: Path, mappings: list[tuple[Path, Mapping]]) -> tuple[Path, Mapping]:
    """The one mapping whose ``source.match`` glob matches ``file``'s name."""
    name = file.name.lower()
    hits = [
        (p, m)
        for p, m in mappings
        if any(fnmatch.fnmatchcase(name, pat.lower()) for pat in m.source.patterns)
    ]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise MappingError(
            f"No mapping matches '{file.name}' ({len(mappings)} mappings searched).",
            hint="Pass --mapping FILE, or add a 'match:' pattern for this file name to a mapping.",
        )
    names = ", ".join(str(p) for p, _ in hits)
    raise MappingError(
        f"Several mappings match '{file.name}': {names}.",
        hint="Pass --mapping FILE to choose one, or make the 'match:' patterns more specific.",
    )


def normalise_header(name: str) -> str:
    """Header comparison key: case-, space- and surrounding-whitespace-insensitive."""
    return " ".join(name.split()).casefold()


def resolve_column(spec: FieldSpec, headers: list[str]) -> str | None:
    """The header in ``headers`` that ``spec`` reads (None when absent or a constant)."""
    by_key: dict[str, str] = {}
    for h in headers:
        by_key.setdefault(normalise_header(h), h)
    if spec.column is not None:
        return by_key.get(normalise_header(spec.column))
    if spec.columns:
        for candidate in spec.columns:
            if (found := by_key.get(normalise_header(candidate))) is not None:
                return found
        return None
    if spec.pattern is not None:
        rx = re.compile(spec.pattern, re.IGNORECASE)
        for h in headers:
            if rx.search(h):
                return h
    return None
