"""Acknowledgements: queries an agency has explained and the partnership has accepted.

One YAML file per agency, committed beside the mappings (``mappings/acks/<agency-id>.yaml``):

```yaml
agency: bolton-csc
acknowledgements:
- rule: age-18-plus
  record: BOL-004211            # one record (the agency's record id) ...
  period: 2026-27 Q2
  reason: Transitional case agreed with the leaving-care team
  accepted_by: J. Analyst
  accepted_on: 2026-11-20
- rule: row-count-change
  scope: file                   # ... or the file-level finding(s) of that rule ...
  period: 2026-27 Q2
  reason: Two teams merged in August; the caseload really did halve
  accepted_by: J. Analyst
  accepted_on: 2026-11-20
```

``scope: all`` acknowledges every finding of the rule in the period's return; ``field:``
narrows an entry to one field; ``period: any`` applies to every quarter. Only queries and info
can be acknowledged: errors must be fixed. An entry that matches nothing in the period's return
is reported as a ``stale-acknowledgement`` (info) so the file does not silently rot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tce_cli import yamlio
from tce_cli.errors import ConfigError, PeriodError
from tce_cli.findings import RULES, FindingCode, Severity, empty_findings
from tce_cli.periods import Period, parse_period

ACKS_FOLDER = "acks"
_AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
ANY_PERIOD = "any"
Scope = Literal["record", "file", "all"]
_NOT_ACKNOWLEDGEABLE = frozenset({FindingCode.STALE_ACKNOWLEDGEMENT.value})
_HEADER = """\
# Acknowledged queries for {agency}: explanations the partnership has accepted.
# Each entry stops a query (or info finding) counting against the agency; errors cannot be
# acknowledged. Written by 'tce ack' (which keeps the entries sorted); hand edits are fine,
# 'tce validate' checks the file. Comments other than this header are not kept.
"""


def acknowledgeable_codes() -> list[str]:
    """Codes that may be acknowledged: every query and info rule except stale entries."""
    return [
        r.code.value
        for r in RULES.values()
        if r.severity is not Severity.ERROR and r.code.value not in _NOT_ACKNOWLEDGEABLE
    ]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Acknowledgement(_Strict):
    """One accepted explanation."""

    rule: str = Field(description="Finding code (a query or info rule).")
    scope: Scope = Field(default="record", description="record, file or all.")
    record: str | None = Field(default=None, description="The agency's record id (scope record).")
    field: str | None = Field(default=None, description="Only findings on this field.")
    period: str = Field(description="Quarter label, or 'any'.")
    reason: str = Field(min_length=1)
    accepted_by: str = Field(min_length=1)
    accepted_on: date

    @model_validator(mode="before")
    @classmethod
    def _coerce(cls, data: Any) -> Any:
        # YAML reads `record: 12345` as a number and `period: 2026-27 Q2` is text already.
        if isinstance(data, dict):
            data = dict(data)
            for key in ("record", "period", "reason", "accepted_by", "field"):
                value = data.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    data[key] = str(value)
                if isinstance(data.get(key), str):
                    data[key] = data[key].strip()
                    if _CONTROL.search(data[key]):  # ESC etc. would act on the terminal
                        raise ValueError(f"{key} contains control characters")
            if "scope" not in data and data.get("record") is None:
                raise ValueError("give record: ID, or scope: file or scope: all")
        return data

    @field_validator("rule")
    @classmethod
    def _rule(cls, value: str) -> str:
        code = value.strip()
        try:
            rule = RULES[FindingCode(code)]
        except ValueError:
            raise ValueError(
                f"'{code}' is not a finding code (codes that can be acknowledged: "
                f"{', '.join(acknowledgeable_codes())})"
            ) from None
        if rule.severity is Severity.ERROR:
            raise ValueError(
                f"'{code}' is an error: errors must be fixed, not acknowledged "
                "(only queries and info can be)"
            )
        if code in _NOT_ACKNOWLEDGEABLE:
            raise ValueError(f"'{code}' cannot be acknowledged: remove the stale entry instead")
        return code

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        if value.casefold() == ANY_PERIOD:
            return ANY_PERIOD
        try:
            return parse_period(value).label
        except PeriodError as exc:
            raise ValueError(f"{exc.message} {exc.hint} Or write 'any'.") from None

    @field_validator("field")
    @classmethod
    def _field(cls, value: str | None) -> str | None:
        from tce_cli.schema import load_schema

        names = set(load_schema().field_names) | {"person_key"}
        if value is not None and value not in names:
            raise ValueError(f"'{value}' is not a framework field")
        return value

    @model_validator(mode="after")
    def _scope_and_record(self) -> Acknowledgement:
        if self.scope == "record" and not self.record:
            raise ValueError("scope record needs record: ID (or use scope: file or all)")
        if self.scope != "record" and self.record is not None:
            raise ValueError(f"record is only for scope record (this entry has scope {self.scope})")
        return self

    @property
    def identity(self) -> tuple[str, str, str, str, str]:
        """What the entry acknowledges (two entries with one identity are duplicates)."""
        return (self.period, self.rule, self.scope, self.record or "", self.field or "")

    def sort_key(self) -> tuple[object, ...]:
        when = "" if self.period == ANY_PERIOD else parse_period(self.period).start.isoformat()
        return (when, self.rule, self.scope, self.record or "", self.field or "")

    def applies_to(self, period: Period) -> bool:
        return self.period in (ANY_PERIOD, period.label)

    def describe(self) -> str:
        """Plain words: "'age-18-plus' for record R1 in 2026-27 Q2"."""
        what = {
            "record": f"for record {self.record}",
            "file": "for the file",
            "all": "for every finding",
        }[self.scope]
        on = f" on {self.field}" if self.field else ""
        when = "in any quarter" if self.period == ANY_PERIOD else f"in {self.period}"
        return f"'{self.rule}' {what}{on} {when}"

    def as_yaml(self) -> dict[str, object]:
        out: dict[str, object] = {"rule": self.rule}
        if self.scope == "record":
            out["record"] = self.record
        else:
            out["scope"] = self.scope
        if self.field:
            out["field"] = self.field
        out |= {
            "period": self.period,
            "reason": self.reason,
            "accepted_by": self.accepted_by,
            "accepted_on": self.accepted_on,
        }
        return out


class AckFile(_Strict):
    """The contents of one agency's acknowledgements file."""

    agency: str
    acknowledgements: list[Acknowledgement] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_duplicates(self) -> AckFile:
        seen: dict[tuple[str, ...], int] = {}
        for n, entry in enumerate(self.acknowledgements, 1):
            if entry.identity in seen:
                raise ValueError(
                    f"acknowledgements[{n}] acknowledges the same as "
                    f"acknowledgements[{seen[entry.identity]}]"
                )
            seen[entry.identity] = n
        return self

    def for_period(self, period: Period) -> list[tuple[int, Acknowledgement]]:
        """(1-based entry number, entry) for the entries that apply to ``period``."""
        return [(n, e) for n, e in enumerate(self.acknowledgements, 1) if e.applies_to(period)]


# --- reading and writing -----------------------------------------------------------------


def ack_path(acks_dir: Path, agency_id: str) -> Path:
    """Where an agency's acknowledgements live (``<acks_dir>/<agency_id>.yaml``).

    Raises:
        ConfigError: ``agency_id`` is not an agency id (so cannot name a file elsewhere).
    """
    if not _AGENCY_ID.match(agency_id):
        raise ConfigError(
            f"'{agency_id}' is not an agency id.",
            hint="Use the id from the agency's mapping: lower-case letters, digits and hyphens.",
        )
    return Path(acks_dir) / f"{agency_id}.yaml"


def load_acks(acks_dir: Path, agency_id: str) -> AckFile:
    """The agency's acknowledgements (none when it has no file).

    Raises:
        ConfigError: the file is not valid YAML, has unknown keys or bad values, tries to
            acknowledge an error, or names another agency; the message names file and key.
    """
    path = ack_path(acks_dir, agency_id)
    if not path.is_file():
        return AckFile(agency=agency_id)
    return parse_acks(_read_yaml(path), path, agency_id)


def parse_acks(data: Any, path: Path, agency_id: str) -> AckFile:
    """Validate parsed YAML as ``agency_id``'s acknowledgements file."""
    hint = f"Fix {path} (README: 'The quarterly cycle'), or re-create the entry with 'tce ack'."
    if data is None:
        return AckFile(agency=agency_id)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the file must be a YAML mapping with agency and acknowledgements.", hint
        )
    try:
        parsed = AckFile.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(path, e) for e in exc.errors()]
        more = f" (+{len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise ConfigError(problems[0] + more, hint) from None
    if parsed.agency != agency_id:
        raise ConfigError(
            f"{path}: agency: '{parsed.agency}' does not match the file name "
            f"(expected '{agency_id}').",
            hint,
        )
    return parsed


def _describe(path: Path, error: Any) -> str:
    loc = _loc(tuple(error["loc"]))
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        where = _loc(tuple(error["loc"])[:-1])
        model = AckFile if where == "(top level)" else Acknowledgement
        return (
            f"{path}: {where}: unknown key '{error['loc'][-1]}' "
            f"(valid keys here: {', '.join(model.model_fields)})"
        )
    if error["type"] == "missing":
        msg = "this key is required"
    return f"{path}: {loc}: {msg}"


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"  # entries are numbered from 1, as people count them
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _read_yaml(path: Path) -> Any:
    return yamlio.read(
        path,
        ConfigError,
        hint="Check indentation and quoting (a reason containing ':' needs quotes).",
    )


def render_acks(acks: AckFile) -> str:
    """The file's canonical text: header comment, entries sorted, stable from run to run."""
    entries = sorted(acks.acknowledgements, key=Acknowledgement.sort_key)
    body = {"agency": acks.agency, "acknowledgements": [e.as_yaml() for e in entries]}
    dumped = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)
    return _HEADER.format(agency=acks.agency) + dumped


def add_ack(acks_dir: Path, agency_id: str, entry: Acknowledgement) -> tuple[Path, AckFile]:
    """Add ``entry`` to the agency's file (created if need be), written atomically.

    Raises:
        ConfigError: the existing file is invalid, or already holds the same acknowledgement.
        OutputError: the file cannot be written.
    """
    from tce_cli.safe_io import atomic_write_text, output_error

    path = ack_path(acks_dir, agency_id)
    current = load_acks(acks_dir, agency_id)
    for n, old in enumerate(current.acknowledgements, 1):
        if old.identity == entry.identity:
            raise ConfigError(
                f"{path}: {entry.describe()} is already acknowledged (acknowledgements[{n}]).",
                hint="Edit that entry to change its reason, or remove it first.",
            )
    updated = AckFile(
        agency=agency_id,
        acknowledgements=sorted([*current.acknowledgements, entry], key=Acknowledgement.sort_key),
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, render_acks(updated))
    except OSError as exc:
        raise output_error(exc, path) from exc
    return path, updated


# --- applying ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AckOutcome:
    """Findings split into outstanding and acknowledged, and which entries matched."""

    outstanding: pl.DataFrame
    acknowledged: pl.DataFrame
    matched: frozenset[int]
    """1-based numbers of the entries that matched at least one finding."""


def _matches(entry: Acknowledgement) -> pl.Expr:
    hit = (pl.col("code") == entry.rule) & (pl.col("severity") != Severity.ERROR.value)
    if entry.scope == "record":
        hit = hit & (pl.col("record_id").str.strip_chars() == entry.record)
    elif entry.scope == "file":
        hit = hit & pl.col("record_id").is_null()
    if entry.field:
        hit = hit & (pl.col("field") == entry.field)
    return hit.fill_null(False)


def apply_acks(
    findings: pl.DataFrame, entries: Sequence[tuple[int, Acknowledgement]]
) -> AckOutcome:
    """Move the findings that ``entries`` acknowledge out of ``findings``.

    Errors are never acknowledged, whatever an entry says.
    """
    if not entries or findings.height == 0:
        return AckOutcome(findings, empty_findings(), frozenset())
    exprs = [_matches(e) for _, e in entries]
    hits = findings.select([x.any().alias(f"_{i}") for i, x in enumerate(exprs)]).row(0)
    matched = frozenset(n for (n, _), hit in zip(entries, hits, strict=True) if hit)
    mask = pl.any_horizontal(exprs)
    return AckOutcome(findings.filter(~mask), findings.filter(mask), matched)


def stale_findings(
    entries: Sequence[tuple[int, Acknowledgement]],
    *,
    agency: str,
    source_file: str,
    path: Path,
) -> pl.DataFrame:
    """One ``stale-acknowledgement`` (info) finding per entry that matched nothing."""
    rule = RULES[FindingCode.STALE_ACKNOWLEDGEMENT]
    rows = [
        {
            "agency": agency,
            "source_file": source_file,
            "source_row": None,
            "record_id": e.record,
            "field": e.field,
            "code": rule.code.value,
            "severity": rule.severity.value,
            "message": f"acknowledgements[{n}] in {path.name} ({e.describe()}) matches no "
            "finding in this return.",
            "hint": rule.hint,
        }
        for n, e in entries
    ]
    if not rows:
        return empty_findings()
    return pl.DataFrame(rows, schema=empty_findings().schema)


__all__ = [
    "ACKS_FOLDER",
    "AckFile",
    "AckOutcome",
    "Acknowledgement",
    "ack_path",
    "acknowledgeable_codes",
    "add_ack",
    "apply_acks",
    "load_acks",
    "parse_acks",
    "render_acks",
    "stale_findings",
]
