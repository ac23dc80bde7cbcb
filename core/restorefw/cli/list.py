"""``restorefw list``: registered components with their parameters and licence."""

from __future__ import annotations

import json

import click

from restorefw.cli._common import registry_for_cli

__all__ = ["list_cmd"]


@click.command("list")
@click.argument("kind", required=False)
@click.option("--pattern", help="Glob on component names, e.g. 'restormer*'.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output with JSON Schemas.")
def list_cmd(kind: str | None, pattern: str | None, as_json: bool) -> None:
    """List registered components, optionally of one KIND."""
    entries = registry_for_cli().list(kind, pattern)
    if as_json:
        click.echo(json.dumps([
            {"kind": e.kind, "name": e.name, "plugin": e.plugin, "distribution": e.distribution,
             "version": e.version, "license": e.license, "paper": e.paper, "description": e.description,
             "params": e.json_schema()}
            for e in entries
        ], indent=2, default=str))
        return
    for e in entries:
        params = ", ".join(
            f"{name}={field.default!r}" if not field.is_required() else name
            for name, field in e.schema.model_fields.items()
        )
        click.echo(f"{e.kind:<12} {e.name:<22} {e.plugin:<10} {e.license or '-':<14} {params}")
