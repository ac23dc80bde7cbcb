"""Shared CLI plumbing: user errors become one line and exit 2, Ctrl-C exits 130."""

from __future__ import annotations

import sys
from typing import Any

import click

from restorefw._errors import RecipeError, RestorefwError

__all__ = ["EXIT_INTERRUPTED", "EXIT_USAGE", "fail", "registry_for_cli", "run_cli"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def fail(exc: RestorefwError) -> None:
    """Print a user error (one line per problem) and exit 2."""
    lines = exc.lines() if isinstance(exc, RecipeError) else str(exc).splitlines() or [type(exc).__name__]
    for line in lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(EXIT_USAGE)


def run_cli(group: click.Group) -> None:
    """Run the click group, mapping restorefw errors and interrupts to exit codes."""
    try:
        group.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except RestorefwError as exc:
        from restorefw.engine import RunInterrupted

        if isinstance(exc, RunInterrupted):
            click.echo(str(exc), err=True)
            sys.exit(exc.exit_code)
        fail(exc)


def registry_for_cli(strict: bool | None = None) -> Any:
    """Registry of installed plugins; load problems are warned about, not fatal (unless strict)."""
    from restorefw._manager import build_registry, get_plugin_manager

    pm = get_plugin_manager(strict=strict)
    registry = build_registry(pm)
    for failure in pm.failures:
        click.echo(f"warning: plugin '{failure.name}' not loaded: {failure.error}", err=True)
    return registry


strict_option: Any = click.option(
    "--strict-plugins", is_flag=True, default=None, help="Fail on any plugin load problem."
)
