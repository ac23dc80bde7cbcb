"""``restorefw validate``: check recipes without running them."""

from __future__ import annotations

from pathlib import Path

import click

from restorefw.cli._common import registry_for_cli, strict_option

__all__ = ["validate"]


@click.command()
@click.argument("recipes", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe value.")
@strict_option
def validate(recipes: tuple[Path, ...], overrides: tuple[str, ...], strict_plugins: bool | None) -> None:
    """Validate RECIPES; exit 2 with one line per problem (TOML path: message)."""
    import sys

    from restorefw import RecipeError, load_recipe, resolve_recipe
    from restorefw.engine import check_recipe

    registry = registry_for_cli(strict_plugins)
    failed = False
    for path in recipes:
        try:
            check_recipe(resolve_recipe(load_recipe(path, list(overrides)), registry, source=str(path)), registry)
        except RecipeError as exc:
            exc.source = exc.source or str(path)
            for line in exc.lines():
                click.echo(f"error: {line}", err=True)
            failed = True
            continue
        click.echo(f"ok: {path}")
    if failed:
        sys.exit(2)
