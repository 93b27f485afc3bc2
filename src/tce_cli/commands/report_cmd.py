"""`tce report`: render the quarterly pack from the harmonised store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tce_cli.commands._common import StoreOption, handle_errors

if TYPE_CHECKING:
    from tce_cli.report import Pack


def register(app: typer.Typer) -> None:
    app.command("report")(report)


@handle_errors
def report(
    period: Annotated[
        str, typer.Option("--period", "-p", help="Quarter to report, e.g. '2026-27 Q2'.")
    ],
    store: StoreOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default: tce-output/report-PERIOD)."),
    ] = None,
    formats: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="md, xlsx or both, comma-separated (measures.csv always)."
        ),
    ] = "md,xlsx",
    templates: Annotated[
        Path | None,
        typer.Option("--templates", help="Folder of Jinja2 templates replacing built-in ones."),
    ] = None,
    threshold: Annotated[
        int | None,
        typer.Option(
            "--threshold", min=1, max=99, help="Suppress counts from 1 to this (default 5)."
        ),
    ] = None,
    no_suppression: Annotated[
        bool,
        typer.Option("--no-suppression", help="No disclosure control; stamps NOT FOR PUBLICATION."),
    ] = False,
    generated_at: Annotated[
        str | None,
        typer.Option(
            "--generated-at", help="Timestamp to print (ISO 8601) for reproducible packs."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the files.")] = False,
) -> None:
    """Render the quarterly pack (Markdown, Excel, tidy CSV) from the harmonised store.

    Counts of 1 to --threshold show as c; more are hidden until none can be worked out.

    Prints the files written. Exit codes: 0 written; 2 could not run (store, period, option).
    """
    from tce_cli import console
    from tce_cli.config import load_config, resolve
    from tce_cli.periods import parse_period
    from tce_cli.report import (
        build_pack,
        check_templates,
        parse_formats,
        parse_timestamp,
        write_pack,
    )

    config = load_config(Path.cwd())
    quarter = parse_period(period)
    chosen = parse_formats(formats)
    moment = parse_timestamp(generated_at)
    templates = resolve(templates, config.templates)
    check_templates(templates)
    pack = build_pack(
        resolve(store, config.store),
        quarter,
        threshold=resolve(threshold, config.thresholds.suppression),
        suppression=not no_suppression,
        generated_at=moment,
    )
    folder = out if out is not None else config.output / f"report-{quarter.slug}"
    for path in write_pack(pack, folder, chosen, templates):
        console.stdout.out(str(path), highlight=False)
    if not quiet:
        _summary(pack)


def _summary(pack: Pack) -> None:
    """Stamps and a one-line suppression summary on stderr."""
    from tce_cli import console

    for stamp in pack.stamps:
        console.info(f"Warning: {stamp}")
    log = pack.log
    suppressed = log.primary + log.margin + log.audit
    console.info(
        f"Pack for {pack.period.label}: {log.counts} counts, {suppressed} suppressed "
        f"({log.primary} primary, {log.margin + log.audit} secondary)."
    )
