"""`tce mapping ...`: draft (init) and check agency mapping files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tce_cli.commands._common import FormatOption, OutputFormat, handle_errors

mapping_app = typer.Typer(
    help="Draft and check agency mapping files (mappings/*.yaml).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(mapping_app, name="mapping")


@mapping_app.command("init")
@handle_errors
def init(
    sample: Annotated[
        Path,
        typer.Argument(help="A sample export (CSV or XLSX) from the agency.", metavar="SAMPLE"),
    ],
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Excel sheet name or number.")
    ] = None,
    agency_id: Annotated[
        str | None, typer.Option("--agency-id", help="Short id, e.g. bolton-csc.")
    ] = None,
    agency_name: Annotated[
        str | None, typer.Option("--agency-name", help="Display name of the agency.")
    ] = None,
    agency_type: Annotated[
        str | None,
        typer.Option("--agency-type", help="LA_CSC, LA_EARLY_HELP, POLICE, HEALTH, VCS, ..."),
    ] = None,
    org_code: Annotated[
        str | None,
        typer.Option(
            "--org-code",
            help="GSS, ODS or URN code (a council's GSS code also "
            "fills local_authority_code when the file has no such column).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Draft to write (default: mappings/<agency id>.yaml)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
    fmt: FormatOption = (OutputFormat.TABLE),
) -> None:
    """Draft a mapping for a new agency from a sample export.

    Matches every framework field to a column by header and values, infers date formats,
    recodes every code value it can, ignores personal and free-text columns, and writes a
    commented YAML with a TODO wherever a person must decide. Review it, then run
    'tce mapping check MAPPING --sample SAMPLE'.

    Exit codes: 0 draft written; 2 the sample cannot be read, --out exists (use --force),
    or an option is invalid.
    """
    from tce_cli import console
    from tce_cli.draft import DraftOptions, draft_mapping, render, write_draft

    options = DraftOptions(agency_id, agency_name, agency_type, org_code)
    with console.progress_status("Drafting a mapping", enabled=fmt is OutputFormat.TABLE):
        draft = draft_mapping(sample, sheet=_sheet(sheet), options=options)
    target = out or Path("mappings") / f"{draft.agency['id']}.yaml"
    write_draft(render(draft), target, force=force)
    report = {**draft.report(), "mapping": str(target)}
    if fmt is OutputFormat.JSON:
        console.print_json(report)
    else:
        from tce_cli.draft.present import show_draft

        show_draft(report, target, sample)


def _sheet(sheet: str | None) -> str | int | None:
    return int(sheet) if sheet is not None and sheet.isdigit() else sheet


@mapping_app.command("check")
@handle_errors
def check(
    files: Annotated[list[Path], typer.Argument(help="Mapping files to check.", metavar="MAPPING")],
    sample: Annotated[
        Path | None,
        typer.Option("--sample", help="Also apply the mapping(s) to this export and report."),
    ] = None,
    fmt: FormatOption = (OutputFormat.TABLE),
) -> None:
    """Validate mapping files; with --sample, also show what they do to a sample export.

    With --sample: the share of rows each field fills, the values the mapping does not
    recode, and dates or counts it cannot read (the same reading and mapping as validate).

    Exit codes: 0 all mappings valid; 2 a mapping is invalid or the sample cannot be read.
    """
    from tce_cli import console
    from tce_cli.mapping import mapping_problems

    problems = {str(f): mapping_problems(f) for f in files}
    coverage = _coverage(files, sample) if sample is not None and not any(problems.values()) else {}
    if fmt is OutputFormat.JSON:
        console.print_json(
            {
                "mappings": [
                    {"file": f, "valid": not p, "problems": p}
                    | ({"sample": coverage[f]} if f in coverage else {})
                    for f, p in problems.items()
                ]
            }
        )
    else:
        for f, found in problems.items():
            if found:
                for line in found:
                    console.error(line)
            else:
                console.stdout.print("[green]OK[/]", console.plain(f))
        if coverage:
            from tce_cli.draft.present import show_sample_coverage

            for cov in coverage.values():
                show_sample_coverage(cov)
    if any(problems.values()):
        console.info("Hint: fix the keys named above; 'tce schema FIELD' lists a field's codes.")
        raise typer.Exit(2)


def _coverage(files: list[Path], sample: Path) -> dict[str, dict[str, object]]:
    from datetime import date

    from tce_cli.draft.sample import sample_coverage
    from tce_cli.mapping import load_mapping
    from tce_cli.periods import latest_ended_by

    period = latest_ended_by(date.today())
    return {str(f): sample_coverage(load_mapping(f), sample, period=period) for f in files}
