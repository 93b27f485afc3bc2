"""`tce status`: where every agency's return for a period stands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tce_cli.commands._common import (
    FormatOption,
    MappingsOption,
    OutputFormat,
    StoreOption,
    handle_errors,
)


def register(app: typer.Typer) -> None:
    app.command("status")(status)


@handle_errors
def status(
    period: Annotated[str, typer.Option("--period", "-p", help="Quarter, e.g. '2026-27 Q2'.")],
    store: StoreOption = None,
    mappings: MappingsOption = None,
    fmt: FormatOption = (OutputFormat.TABLE),
) -> None:
    """Show each agency's return for a period: on time, late, missing or awaiting.

    Lists every agency with a mapping plus any in the store: latest submission, how many
    times it was submitted, rows read / accepted / rejected, errors and queries outstanding,
    queries acknowledged; then cross-agency consistency (DQ20, DQ21) as counts per pair of
    agencies, never naming a child.

    Exit codes: 0 shown (whatever the state); 2 bad period or a damaged store.
    """
    from datetime import date

    from tce_cli import console
    from tce_cli.config import load_config, resolve
    from tce_cli.cycle.status import period_status
    from tce_cli.periods import parse_period

    config = load_config(Path.cwd())
    result = period_status(
        resolve(store, config.store),
        parse_period(period),
        mappings_dir=resolve(mappings, config.mappings),
        today=date.today(),
        thresholds=config.thresholds,
    )
    if fmt is OutputFormat.JSON:
        console.print_json(result.to_dict())
    else:
        from tce_cli.cycle.present import show_status

        show_status(result)
