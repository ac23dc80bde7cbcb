"""``restorefw plugins``: what is installed, what it registered, what failed."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

import click

__all__ = ["plugins"]


def _rows(pm: Any, show_all: bool) -> list[dict[str, Any]]:
    """One row per plugin (loaded or not), with its status and every failure recorded for it."""
    rows = [{**asdict(info), "status": pm.status(info.name)} for info in pm.info.values()
            if show_all or info.name != "core"]
    known = {row["name"] for row in rows}
    for failure in pm.failures:
        if failure.name not in known:
            known.add(failure.name)
            rows.append({"name": failure.name, "distribution": failure.distribution, "version": failure.version,
                         "module": "", "hooks": [], "registered": {}, "status": "error"})
    for row in rows:
        failures = [asdict(f) for f in pm.failures if f.name == row["name"]]
        row["failures"] = failures
        if failures:
            row["error"] = "; ".join(f["error"] for f in failures)
    return rows


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "show_all", is_flag=True, help="Include the core's own components.")
@click.option("--strict-plugins", is_flag=True, default=None, help="Exit 2 at the first plugin problem.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when a plugin failed or warned.")
def plugins(as_json: bool, show_all: bool, strict_plugins: bool | None, exit_zero: bool) -> None:
    """List plugins: name, distribution, version, hooks, registered names, status.

    Exits 1 when a plugin failed or warned (unless --exit-zero), 2 with --strict-plugins.
    """
    from restorefw._manager import build_op_registry, build_registry, get_plugin_manager

    pm = get_plugin_manager(strict=strict_plugins)
    build_registry(pm)
    build_op_registry(pm)
    rows = _rows(pm, show_all)
    if as_json:
        click.echo(json.dumps({"plugins": rows}, indent=2))
    else:
        for row in rows:
            click.echo(f"{row['name']}  {row['distribution']} {row['version']}  [{row['status']}]")
            for kind, names in sorted(row["registered"].items()):
                click.echo(f"    {kind}: {', '.join(names)}")
            for failure in row["failures"]:
                click.echo(f"    {failure['level']}: {failure['error']}")
    if pm.failures and not exit_zero:
        sys.exit(1)
