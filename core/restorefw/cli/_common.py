"""Shared CLI plumbing: user errors become one line and exit 2 (a traceback with ``--debug``), Ctrl-C exits 130."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from restorefw._errors import RecipeError, RestorefwError

__all__ = ["EXIT_INTERRUPTED", "EXIT_USAGE", "Group", "fail", "registry_for_cli", "run_cli", "warn_failures"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def fail(exc: RestorefwError, debug: bool = False) -> None:
    """Print a user error (one line per problem) and exit 2; with ``debug``, the traceback first."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    lines = exc.lines() if isinstance(exc, RecipeError) else str(exc).splitlines() or [type(exc).__name__]
    if not debug and exc.__cause__ is not None:
        # An exception raised inside a plugin: its traceback is what its author needs.
        lines[-1] += " (restorefw --debug shows the traceback)"
    for line in lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(EXIT_USAGE)


def _debugging(ctx: click.Context | None) -> bool:
    if ctx is not None and ctx.find_root().params.get("debug"):
        return True
    return os.environ.get("RESTOREFW_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def _report(exc: RestorefwError, ctx: click.Context | None) -> None:
    from restorefw.engine import RunInterrupted

    if isinstance(exc, RunInterrupted):
        click.echo(str(exc), err=True)
        sys.exit(exc.exit_code)
    fail(exc, _debugging(ctx))


class Group(click.Group):
    """The top-level group: a restorefw error raised by any command is reported the same way,
    whether the command runs from the console script or from click's test runner."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; report restorefw errors as one line each and exit 2."""
        try:
            return super().invoke(ctx)
        except RestorefwError as exc:
            _report(exc, ctx)


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
        _report(exc, click.get_current_context(silent=True))


def warn_failures(pm: Any) -> None:
    """One warning line per plugin problem recorded by a (non-strict) plugin manager."""
    for failure in pm.failures:
        origin = f"{failure.distribution} {failure.version}".strip()
        click.echo(f"warning: plugin '{failure.name}'" + (f" ({origin})" if origin else "") + f": {failure.error}",
                   err=True)


def registry_for_cli(strict: bool | None = None) -> Any:
    """Registry of installed plugins; load problems are warned about, not fatal (unless strict)."""
    from restorefw._manager import build_registry, get_plugin_manager

    pm = get_plugin_manager(strict=strict)
    registry = build_registry(pm)
    warn_failures(pm)
    return registry


strict_option: Any = click.option(
    "--strict-plugins", is_flag=True, default=None, help="Fail on any plugin load problem."
)
