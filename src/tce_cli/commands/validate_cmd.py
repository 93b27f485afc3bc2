"""`tce validate`: check agency exports against their mappings and the framework."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tce_cli.commands._common import FormatOption, MappingsOption, OutputFormat, handle_errors

if TYPE_CHECKING:
    from tce_cli.config import Config
    from tce_cli.pipeline import FileResult, ValidationResult


class FailOn(StrEnum):
    ERROR = "error"
    QUERY = "query"
    INFO = "info"


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)


@handle_errors
def validate(
    files: Annotated[
        list[Path], typer.Argument(help="Export files, folders or globs.", metavar="FILE")
    ],
    mapping: Annotated[
        Path | None, typer.Option("--mapping", "-m", help="Mapping file (default: by match:).")
    ] = None,
    mappings: MappingsOption = None,
    period: Annotated[
        str | None,
        typer.Option("--period", "-p", help="Quarter, e.g. '2026-27 Q2' (default: inferred)."),
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            "--fail-on", help="Lowest severity that makes the exit code 1 (default: error)."
        ),
    ] = None,
    findings_out: Annotated[
        Path | None, typer.Option("--findings-out", help="Write every finding (.csv or .json).")
    ] = None,
    feedback: Annotated[
        Path | None, typer.Option("--feedback", help="Write the agency feedback workbook (.xlsx).")
    ] = None,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Excel sheet name or number.")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="Override encoding detection.")
    ] = None,
    fmt: FormatOption = (OutputFormat.TABLE),
    show: Annotated[
        int, typer.Option("--show", help="How many findings to list on screen (0 = none).")
    ] = 10,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store", help="Store to compare with last quarter (default: from tce.toml)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the exit code.")] = False,
) -> None:
    """Check agency exports against their mapping and the Intelligence Framework.

    Every problem is found in one pass. With a store (--store or tce.toml) each return is
    also compared with the agency's previous quarter there. Queries acknowledged in
    <mappings>/acks/AGENCY.yaml (tce ack) are shown apart and do not count.

    Exit code 0: nothing at or above --fail-on; 1: findings at or above it; 2: could not
    run (bad file, mapping, acknowledgements file or option).
    """
    from tce_cli import console, pipeline
    from tce_cli.config import load_config
    from tce_cli.feedback import feedback_bytes, findings_bytes
    from tce_cli.findings import Severity, exit_code
    from tce_cli.inputs import expand_inputs
    from tce_cli.periods import parse_period
    from tce_cli.safe_io import write_all_or_nothing

    config = load_config(Path.cwd())
    chosen_period = parse_period(period) if period else None
    paths = expand_inputs(files)
    compare_with = store or (config.store if config.store.exists() else None)
    with console.progress_status(
        f"Checking {len(paths)} file(s)", enabled=fmt is OutputFormat.TABLE and not quiet
    ):
        result = pipeline.validate_files(
            paths,
            mapping_path=mapping,
            mappings_dir=mappings or config.mappings,
            period=chosen_period,
            today=date.today(),
            sheet=_sheet(sheet),
            encoding=encoding,
            # the rows are needed only to compare with last quarter: without a store, a
            # large CSV is checked a piece at a time, in far less memory
            keep_rows=compare_with is not None,
        )
        result = _review(result, compare_with, mappings or config.mappings, config)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    outputs: dict[Path, bytes] = {}  # rendered first: a failure leaves both files as they were
    if findings_out is not None:
        outputs[findings_out] = findings_bytes(result, findings_out)
    if feedback is not None:
        outputs[feedback] = feedback_bytes(result, feedback, generated_at=stamp)
    write_all_or_nothing(outputs)
    if fmt is OutputFormat.JSON:
        console.print_json(pipeline.validation_summary(result))
    elif not quiet:
        _present(result, findings_out, feedback, show)
    threshold = Severity(fail_on.value) if fail_on is not None else config.fail_on
    raise typer.Exit(exit_code(result.findings, threshold))


def _review(
    result: ValidationResult, store: Path | None, mappings_dir: Path, config: Config
) -> ValidationResult:
    """Acknowledgements and the comparison with last quarter (tce_cli.cycle.review)."""
    import os

    from tce_cli.cycle.review import review_validation
    from tce_cli.errors import KeyFileError
    from tce_cli.pseudonymise import load_key

    try:  # the key only lets children be followed from last quarter; it is optional here
        key: bytes | None = load_key(config.key_file, os.environ)
    except KeyFileError:
        key = None
    return review_validation(
        result,
        store_root=store,
        key=key,
        acks_fallback=mappings_dir,
        thresholds=config.thresholds,
    )


def _sheet(sheet: str | None) -> str | int | None:
    return int(sheet) if sheet is not None and sheet.isdigit() else sheet


def _present(
    result: ValidationResult, findings_out: Path | None, feedback: Path | None, show: int
) -> None:
    from tce_cli import console

    for f in result.files:
        _present_file(f, show)
    console.info("")
    if findings_out:
        console.info(f"Findings written to {findings_out}")
    if feedback:
        console.info(f"Feedback workbook written to {feedback}")


def _present_first(f: FileResult, show: int) -> None:
    """The first findings, errors first, with the row and column as the agency sees them."""
    from rich.table import Table

    from tce_cli import console

    if show <= 0 or f.findings.height == 0:
        return
    columns = {k: v[0] for k, v in f.resolution.columns.items() if len(v) == 1}
    table = Table(
        "row",
        "column",
        "severity",
        "what is wrong",
        title=f"First {min(show, f.findings.height)} of {f.findings.height} findings "
        "(all of them: --findings-out or --feedback)",
    )
    for row in f.findings.head(show).iter_rows(named=True):
        where = "" if row["source_row"] is None else str(row["source_row"])
        table.add_row(  # column names and messages come from the file: never markup
            where,
            console.plain(columns.get(row["field"] or "", row["field"] or "")),
            row["severity"],
            console.plain(row["message"]),
        )
    console.stdout.print(table)


def _markup_safe(text: str) -> str:
    """A file, sheet or agency name for a Rich markup string ('[/x]' would crash it)."""
    from rich.markup import escape

    from tce_cli import console

    return escape(console.clean(text))


def _present_file(f: FileResult, show: int) -> None:
    from rich.table import Table

    from tce_cli import console
    from tce_cli.pipeline import summary_by_rule
    from tce_cli.schema import load_schema

    out = console.stdout
    inferred = " (inferred from the extract date; set with --period)" if f.period_inferred else ""
    name, agency = _markup_safe(f.path.name), _markup_safe(f.mapping.agency.name)
    out.print(f"\n[bold]{name}[/] — {agency} — {f.period.label}{inferred}")
    rejected = len(f.rejected_rows())
    out.print(
        f"{f.rows_read} rows read; {rejected} with errors; "
        f"{f.info.format.upper()}"
        + (f", {f.info.encoding}" if f.info.encoding else "")
        + (f", sheet '{_markup_safe(f.info.sheet)}'" if f.info.sheet else "")
        + f", header on row {f.info.header_row}"
    )
    rules = summary_by_rule(f.findings)
    if not rules:
        out.print("[green]No findings.[/]")
    else:
        table = Table("rule", "severity", "count", "what it means", title="Findings by rule")
        colour = {"error": "red", "query": "yellow", "info": "cyan"}
        for r in rules:
            sev = str(r["severity"])
            table.add_row(
                str(r["code"]), f"[{colour[sev]}]{sev}[/]", str(r["count"]), str(r["title"])
            )
        out.print(table)
    from tce_cli.cycle.present import show_review

    show_review(f)
    _present_first(f, show)
    schema = load_schema()
    comp = Table("field", "filled", "expected", title="Completeness")
    for name, pct in f.completeness().items():
        threshold = f.mapping.options.completeness.get(name, schema.field(name).completeness)
        if threshold is None:
            continue
        rag = "green" if pct >= threshold else ("yellow" if pct >= threshold - 10 else "red")
        comp.add_row(name, f"[{rag}]{pct:.1f}%[/]", f"{threshold:g}%")
    out.print(comp)
