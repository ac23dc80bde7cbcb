"""``restorefw plugins``: what is installed, what it registered, what failed."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

__all__ = ["plugins"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "show_all", is_flag=True, help="Include the core's own components.")
@click.option("--strict-plugins", is_flag=True, default=None, help="Exit non-zero on any plugin problem.")
def plugins(as_json: bool, show_all: bool, strict_plugins: bool | None) -> None:
    """List plugins: name, distribution, version, hooks, registered names, status."""
    from restorefw._manager import build_registry, get_plugin_manager

    pm = get_plugin_manager(strict=strict_plugins)
    build_registry(pm)
    rows = [
        {**asdict(info), "status": "ok"}
        for info in pm.info.values()
        if show_all or info.name != "core"
    ]
    failed_names = {f.name for f in pm.failures}
    for row in rows:
        if row["name"] in failed_names:
            row["status"] = "error"
            row["error"] = "; ".join(f.error for f in pm.failures if f.name == row["name"])
    known = {row["name"] for row in rows}
    rows += [{**asdict(f), "status": "error"} for f in pm.failures if f.name not in known]
    if as_json:
        click.echo(json.dumps({"plugins": rows}, indent=2))
        return
    for row in rows:
        head = f"{row['name']}  {row['distribution']} {row['version']}  [{row['status']}]"
        click.echo(head)
        for kind, names in sorted(row.get("registered", {}).items()):
            click.echo(f"    {kind}: {', '.join(names)}")
        if row["status"] == "error":
            click.echo(f"    error: {row['error']}")
