"""``restorefw schema``: JSON Schema of recipes and of every registered component."""

from __future__ import annotations

import json

import click

from restorefw.cli._common import registry_for_cli

__all__ = ["schema"]


@click.command()
def schema() -> None:
    """Print the JSON Schema of recipes, with each component's parameters under $defs."""
    from restorefw._recipe import Recipe

    document = Recipe.model_json_schema()
    components: dict[str, dict[str, object]] = {}
    for entry in registry_for_cli().list():
        components.setdefault(entry.kind, {})[entry.name] = entry.json_schema()
    document["x-restorefw-components"] = components
    click.echo(json.dumps(document, indent=2, default=str))
