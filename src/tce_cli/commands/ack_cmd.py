"""`tce ack`: record that an agency's query has been explained and accepted."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tce_cli.commands._common import FormatOption, MappingsOption, OutputFormat, handle_errors

if TYPE_CHECKING:
    from tce_cli.cycle.acks import Acknowledgement


class AckScope(StrEnum):
    FILE = "file"
    ALL = "all"


def register(app: typer.Typer) -> None:
    app.command("ack")(ack)


@handle_errors
def ack(
    agency: Annotated[
        str,
        typer.Argument(help="Agency id, as in its mapping (e.g. bolton-csc).", metavar="AGENCY"),
    ],
    rule: Annotated[str, typer.Option("--rule", help="Finding code (a query or info rule).")],
    period: Annotated[
        str, typer.Option("--period", "-p", help="Quarter, e.g. '2026-27 Q2' (or 'any').")
    ],
    reason: Annotated[str, typer.Option("--reason", help="The explanation that was accepted.")],
    by: Annotated[str, typer.Option("--by", help="Who accepted it.")],
    record: Annotated[
        str | None, typer.Option("--record", help="The agency's record id the query is on.")
    ] = None,
    scope: Annotated[
        AckScope | None,
        typer.Option("--scope", help="file: the file-level finding; all: every finding."),
    ] = None,
    field: Annotated[
        str | None, typer.Option("--field", help="Only findings on this framework field.")
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="Date accepted, YYYY-MM-DD (default: today).")
    ] = None,
    acks_dir: Annotated[
        Path | None,
        typer.Option("--acks-dir", help="Acknowledgements folder (default: <mappings>/acks)."),
    ] = None,
    mappings: MappingsOption = None,
    fmt: FormatOption = (OutputFormat.TABLE),
) -> None:
    """Acknowledge a query: it stops counting against the agency in validate and harmonise.

    Give --record ID for one record's query, or --scope file (a file-level query such as
    row-count-change) or --scope all (every finding of the rule). Errors cannot be
    acknowledged: they must be fixed. The entry is added to <mappings>/acks/AGENCY.yaml
    (sorted, written atomically); commit that file with the mappings.

    Exit codes: 0 recorded; 2 invalid rule, period, date or agency, or already acknowledged.
    """
    from tce_cli import console
    from tce_cli.config import load_config, resolve
    from tce_cli.cycle.acks import ACKS_FOLDER, add_ack
    from tce_cli.errors import ConfigError

    config = load_config(Path.cwd())
    mappings_dir = resolve(mappings, config.mappings)
    _check_agency(agency, mappings_dir, explicit_acks=acks_dir is not None)
    entry = _entry(rule, record, scope, field, period, reason, by, on)
    target = resolve(acks_dir, mappings_dir / ACKS_FOLDER)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"'{target}' is not a folder.", hint="Point --acks-dir at a folder.")
    path, updated = add_ack(target, agency, entry)
    if fmt is OutputFormat.JSON:
        console.print_json(
            {
                "file": str(path),
                "agency": agency,
                "entries": len(updated.acknowledgements),
                "added": entry.model_dump(mode="json"),
            }
        )
    else:
        n = len(updated.acknowledgements)
        shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
        console.stdout.print(
            f"Acknowledged {entry.describe()} ({agency}): {shown} now has {n} "
            f"{'entry' if n == 1 else 'entries'}."
        )


def _check_agency(agency: str, mappings_dir: Path, *, explicit_acks: bool) -> None:
    from tce_cli.errors import ConfigError
    from tce_cli.mapping import load_mappings

    if not mappings_dir.is_dir():
        if explicit_acks:
            return
        raise ConfigError(
            f"Mappings folder not found: {mappings_dir}",
            hint="Pass --mappings DIR (acknowledgements live in its acks/ folder), or --acks-dir.",
        )
    known = sorted({m.agency.id for _, m in load_mappings(mappings_dir)})
    if agency not in known:
        raise ConfigError(
            f"No mapping in {mappings_dir} is for agency '{agency}'.",
            hint=f"Agencies with a mapping: {', '.join(known) or 'none'}.",
        )


def _entry(
    rule: str,
    record: str | None,
    scope: AckScope | None,
    field: str | None,
    period: str,
    reason: str,
    by: str,
    on: str | None,
) -> Acknowledgement:
    from datetime import date

    from pydantic import ValidationError

    from tce_cli.cycle.acks import Acknowledgement
    from tce_cli.errors import ConfigError

    if (record is None) == (scope is None):
        raise ConfigError(
            "Give exactly one of --record ID and --scope file|all.",
            hint="--record for one record's query; --scope file for a file-level query.",
        )
    try:
        accepted_on = date.fromisoformat(on) if on else date.today()
    except ValueError:
        raise ConfigError(f"--on '{on}' is not a date.", hint="Write it as YYYY-MM-DD.") from None
    data = {
        "rule": rule,
        "scope": scope.value if scope else "record",
        "record": record,
        "field": field,
        "period": period,
        "reason": reason,
        "accepted_by": by,
        "accepted_on": accepted_on,
    }
    try:
        return Acknowledgement.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "entry"
        option = {"accepted_by": "--by", "accepted_on": "--on"}.get(where, f"--{where}")
        raise ConfigError(
            f"{option}: {str(first['msg']).removeprefix('Value error, ')}",
            hint="'tce schema' lists fields; the README's rule table lists codes and severities.",
        ) from None
