"""`tce harmonise`: map every agency's return into the pseudonymised framework store."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tce_cli.commands._common import (
    FormatOption,
    MappingsOption,
    OutputFormat,
    StoreOption,
    handle_errors,
)

if TYPE_CHECKING:
    from tce_cli.harmonise import HarmonisedFile
    from tce_cli.periods import Period


def register(app: typer.Typer) -> None:
    app.command("harmonise")(harmonise)


@handle_errors
def harmonise(
    files: Annotated[
        list[Path], typer.Argument(help="Export files, folders or globs.", metavar="FILE")
    ],
    period: Annotated[str, typer.Option("--period", "-p", help="Quarter, e.g. '2026-27 Q2'.")],
    store: StoreOption = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", "-m", help="Mapping file for all inputs.")
    ] = None,
    mappings: MappingsOption = None,
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="Pseudonymisation key (or set TCE_KEY).")
    ] = None,
    no_pseudonymise: Annotated[
        bool,
        typer.Option("--no-pseudonymise", help="Local testing only: marks the store and outputs."),
    ] = False,
    from_pseudonymised: Annotated[
        bool,
        typer.Option(
            "--from-pseudonymised",
            help="FILES are Parquet exports an agency made with its own tce run (no key needed).",
        ),
    ] = False,
    generated_at: Annotated[
        str | None, typer.Option("--generated-at", help="Run timestamp (ISO), for reproducibility.")
    ] = None,
    fmt: FormatOption = (OutputFormat.TABLE),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Map, check and pseudonymise agency files for one period into the store.

    Rows with errors go to the store's rejected/ folder with reasons; rows read = accepted +
    rejected for every file, or nothing is written. Re-running a period for an agency
    replaces its earlier run. Exit 0 on success, 2 if it could not run.
    """
    from tce_cli import console
    from tce_cli.config import load_config, resolve
    from tce_cli.harmonise import NOT_PSEUDONYMISED_KEY, run_harmonise
    from tce_cli.inputs import expand_inputs
    from tce_cli.periods import parse_period
    from tce_cli.pseudonymise import key_fingerprint, load_key

    config = load_config(Path.cwd())
    chosen = parse_period(period)
    stamp = _stamp(generated_at)
    if from_pseudonymised:
        _load_pseudonymised(files, chosen, resolve(store, config.store), key_file, stamp, quiet)
        return
    if no_pseudonymise:
        key, fingerprint = NOT_PSEUDONYMISED_KEY, None
    else:
        key = load_key(resolve(key_file, config.key_file), os.environ)
        fingerprint = key_fingerprint(key)
    paths = expand_inputs(files)
    with console.progress_status(
        f"Harmonising {len(paths)} file(s)", enabled=fmt is OutputFormat.TABLE and not quiet
    ):
        outcome = run_harmonise(
            paths,
            period=chosen,
            store_root=resolve(store, config.store),
            mapping_path=mapping,
            mappings_dir=resolve(mappings, config.mappings),
            key=key,
            key_fingerprint=fingerprint,
            today=date.today(),
            generated_at=stamp,
            thresholds=config.thresholds,
        )
    if fmt is OutputFormat.JSON:
        console.print_json(outcome.summary())
    elif not quiet:
        _present(outcome.files, outcome.store_root, no_pseudonymise)


def _stamp(text: str | None) -> datetime:
    from tce_cli.errors import ConfigError

    try:
        stamp = datetime.fromisoformat(text) if text else datetime.now(UTC)
    except ValueError:
        raise ConfigError(
            f"--generated-at '{text}' is not an ISO date-time.",
            hint="For example: --generated-at 2026-11-25T09:00:00+00:00",
        ) from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _load_pseudonymised(
    files: list[Path],
    period: Period,
    store: Path,
    key_file: Path | None,
    stamp: datetime,
    quiet: bool,
) -> None:
    from tce_cli import console
    from tce_cli.harmonise import run_from_pseudonymised
    from tce_cli.inputs import expand_inputs
    from tce_cli.pseudonymise import key_fingerprint, load_key

    fingerprint = key_fingerprint(load_key(key_file, {})) if key_file else None
    parts = run_from_pseudonymised(
        [p for p in expand_inputs(files)],
        period=period,
        store_root=store,
        key_fingerprint=fingerprint,
        generated_at=stamp,
    )
    if not quiet:
        for part in parts:
            console.stdout.print(
                console.plain(f"Loaded {part.frame.height} rows for {part.agency_id} into {store}")
            )


def _present(files: tuple[HarmonisedFile, ...], store_root: Path, unkeyed: bool) -> None:
    from rich.table import Table

    from tce_cli import console

    table = Table(
        "file", "agency", "read", "accepted", "rejected", "top findings", title="Harmonised"
    )
    for h in files:
        read, accepted, rejected = h.counts
        top = sorted(h.result.counts_by_code().items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        table.add_row(
            console.plain(h.result.path.name),
            h.result.mapping.agency.id,
            str(read),
            str(accepted),
            str(rejected),
            ", ".join(f"{c} {n}" for c, n in top),
        )
    console.stdout.print(table)
    from tce_cli.cycle.present import show_review

    for h in files:
        show_review(h.result, label=h.result.mapping.agency.id)
    console.stdout.print(
        console.plain(f"Store: {store_root}  (rejected rows: {store_root / 'rejected'})")
    )
    if unkeyed:
        console.stdout.print("[bold red]NOT PSEUDONYMISED — local testing only.[/]")
