"""`tce schema`: show the Intelligence Framework schema."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from tce_cli.commands._common import handle_errors


class SchemaFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)


@handle_errors
def schema(
    field: Annotated[
        str | None,
        typer.Argument(help="Show one field with its codes, e.g. 'sex'.", metavar="FIELD"),
    ] = None,
    fmt: Annotated[
        SchemaFormat, typer.Option("--format", "-f", help="table, json or yaml.")
    ] = SchemaFormat.TABLE,
) -> None:
    """Show the framework schema (v1): fields, types, required, codes and derived fields."""
    from tce_cli import console
    from tce_cli.errors import TceError
    from tce_cli.schema import load_schema

    s = load_schema()
    if field is not None and field not in s.field_names:
        derived = {d.name for d in s.derived}
        if field not in derived:
            raise TceError(
                f"'{field}' is not a framework field.",
                hint=f"Run 'tce schema' to list the fields ({', '.join(s.field_names[:6])}, ...).",
            )
    payload = _payload(field)
    if fmt is SchemaFormat.JSON:
        console.print_json(payload)
        return
    if fmt is SchemaFormat.YAML:
        import yaml

        console.stdout.out(yaml.safe_dump(payload, sort_keys=False, allow_unicode=True))
        return
    _show_table(field)


def _payload(field: str | None) -> dict[str, Any]:
    from tce_cli.schema import load_schema

    s = load_schema()
    fields = [
        {**f.model_dump(mode="json", exclude_none=True), "codes": s.codes(f.name) or None}
        for f in s.fields
        if field is None or f.name == field
    ]
    derived = [
        {**d.model_dump(mode="json", exclude_none=True), "codes": s.code_lists.get(d.codes or "")}
        for d in s.derived
        if field is None or d.name == field
    ]
    for item in [*fields, *derived]:
        if item.get("codes") is None:
            item.pop("codes", None)
    if field is not None:
        return (fields or derived)[0]
    return {"name": s.name, "version": s.version, "fields": fields, "derived": derived}


def _show_table(field: str | None) -> None:
    from rich.table import Table

    from tce_cli import console
    from tce_cli.schema import load_schema

    s = load_schema()
    if field is not None:
        item = _payload(field)
        table = Table(title=f"{field} ({item.get('label', '')})", show_header=False)
        for key in (
            "role",
            "type",
            "required",
            "condition",
            "pattern",
            "min",
            "max",
            "description",
        ):
            if key in item:
                table.add_row(key, str(item[key]))
        console.stdout.print(table)
        codes = item.get("codes") or {}
        if codes:
            code_table = Table("code", "label", title="Codes")
            for code, label in codes.items():
                code_table.add_row(code, label)
            console.stdout.print(code_table)
        return
    table = Table(
        "field",
        "role",
        "type",
        "req",
        "codes / format",
        "description",
        title=f"{s.name} — schema v{s.version}",
    )
    for f in s.fields:
        spec = f.codes or f.pattern or ""
        table.add_row(f.name, f.role.value, f.type.value, f.required, spec, f.description)
    console.stdout.print(table)
    derived = Table("derived field", "type", "description", title="Derived at load")
    for d in s.derived:
        derived.add_row(d.name, d.type.value, d.description)
    console.stdout.print(derived)
