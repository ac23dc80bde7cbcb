"""``restorefw list``: registered components with their parameters and licence."""

from __future__ import annotations

import io
import json
import shutil
from typing import Any

import click

from restorefw.cli._common import registry_for_cli, strict_option

__all__ = ["list_cmd"]


@click.command("list")
@click.argument("kind", required=False)
@click.option("--pattern", help="Glob on component names, e.g. 'restormer*'.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output with JSON Schemas.")
@strict_option
def list_cmd(kind: str | None, pattern: str | None, as_json: bool, strict_plugins: bool | None) -> None:
    """List registered components, optionally of one KIND."""
    entries = registry_for_cli(strict_plugins).list(kind, pattern)
    if as_json:
        click.echo(json.dumps([
            {"kind": e.kind, "name": e.name, "plugin": e.plugin, "distribution": e.distribution,
             "version": e.version, "license": e.license, "paper": e.paper, "description": e.description,
             "params": e.json_schema(), "defaults": _defaults(e.schema)}
            for e in entries
        ], indent=2, default=str))
        return
    click.echo(_table([(e.kind, e.name, e.plugin, e.license or "-", _params(e.schema)) for e in entries]), nl=False)


def _table(rows: list[tuple[str, ...]]) -> str:
    """The rows as a table whose columns fit their longest names; long licences and parameter lists
    wrap inside their own column."""
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for header in ("kind", "name", "plugin"):
        table.add_column(header, no_wrap=True)
    table.add_column("licence", max_width=30, overflow="fold")
    table.add_column("parameters", overflow="fold")
    for row in rows:
        table.add_row(*row)
    out = io.StringIO()
    width = shutil.get_terminal_size((160, 24)).columns
    Console(file=out, width=max(width, 100), highlight=False, markup=False, emoji=False).print(table)
    return "".join(line.rstrip() + "\n" for line in out.getvalue().splitlines())


def _defaults(schema: Any) -> dict[str, Any]:
    return {name: field.get_default(call_default_factory=True)
            for name, field in schema.model_fields.items() if not field.is_required()}


def _params(schema: Any) -> str:
    """``name=default`` for each parameter (defaults made by a factory included), bare names when required."""
    defaults = _defaults(schema)
    return ", ".join(f"{name}={defaults[name]!r}" if name in defaults else name for name in schema.model_fields)
