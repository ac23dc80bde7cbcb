"""``restorefw validate``: check recipes without running them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from restorefw.cli._common import registry_for_cli, strict_option

__all__ = ["dry_build", "validate"]


def dry_build(resolved: dict[str, Any], registry: Any) -> None:
    """Build the model on the meta device: part mismatches surface before any output exists."""
    import torch

    from restorefw._errors import ConfigError, RecipeError

    try:
        with torch.device("meta"):
            registry.build("model", resolved["model"])
    except ConfigError as exc:
        raise RecipeError([(exc.path or "model", exc.message)]) from None


@click.command()
@click.argument("recipes", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe value.")
@strict_option
def validate(recipes: tuple[Path, ...], overrides: tuple[str, ...], strict_plugins: bool | None) -> None:
    """Validate RECIPES; exit 2 with one line per problem (TOML path: message)."""
    import sys

    from restorefw._errors import RecipeError
    from restorefw._recipe import load_recipe, resolve_recipe

    registry = registry_for_cli(strict_plugins)
    failed = False
    for path in recipes:
        try:
            resolved = resolve_recipe(load_recipe(path, list(overrides)), registry, source=str(path))
            dry_build(resolved, registry)
        except RecipeError as exc:
            exc.source = exc.source or str(path)
            for line in exc.lines():
                click.echo(f"error: {line}", err=True)
            failed = True
            continue
        click.echo(f"ok: {path}")
    if failed:
        sys.exit(2)
