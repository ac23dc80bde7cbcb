"""``restorefw ops``: compute ops, their implementations, and which one is used here."""

from __future__ import annotations

import json
from typing import Any

import click

from restorefw.cli._common import warn_failures

__all__ = ["ops"]


@click.command("ops")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--device", help="Device to resolve for (default: cuda when available, else cpu).")
@click.option("--dtype", default="float32", show_default=True, help="Parameter dtype to resolve for.")
def ops(as_json: bool, device: str | None, dtype: str) -> None:
    """List ops with every implementation; mark the one in use (RESTOREFW_OPS applies)."""
    import torch

    from restorefw._errors import ConfigError
    from restorefw._manager import build_op_registry, get_plugin_manager
    from restorefw.ops import current_policy

    pm = get_plugin_manager()
    registry = build_op_registry(pm)
    warn_failures(pm)
    target = getattr(torch, dtype, None)
    if not isinstance(target, torch.dtype):
        raise ConfigError(f"unknown dtype '{dtype}'", "--dtype")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    policy = current_policy()
    rows: list[dict[str, Any]] = []
    for op in registry:
        active = registry.select(op.name, device, target, policy)
        rows.append({
            "name": op.name,
            "description": op.description,
            "active": active.name,
            "implementations": [
                {"name": i.name, "plugin": i.plugin, "distribution": i.distribution, "version": i.version,
                 "devices": list(i.devices) if i.devices is not None else ["any"],
                 "dtypes": [str(d).removeprefix("torch.") for d in i.dtypes],
                 "priority": None if i.is_reference else i.priority,
                 "available": _missing(i, torch) is None, "reason": _missing(i, torch),
                 "active": i is active, "description": i.description}
                for i in op.implementations
            ],
        })
    if as_json:
        click.echo(json.dumps({"device": device, "dtype": dtype, "policy": str(policy), "ops": rows}, indent=2))
        return
    click.echo(f"policy: {policy}; * marks the implementation used on {device} for {dtype}")
    for row in rows:
        click.echo(f"{row['name']}  {row['description']}")
        for impl in row["implementations"]:
            origin = f"{impl['plugin']} ({impl['distribution']} {impl['version']})".replace(" ( )", "")
            extra = "" if impl["priority"] is None else f"  priority {impl['priority']}"
            state = "" if impl["available"] else f"  unavailable: {impl['reason']}"
            mark = "*" if impl["active"] else " "
            click.echo(f"  {mark} {impl['name']:<14} {origin:<34} {', '.join(impl['devices'])}{extra}{state}")


def _missing(impl: Any, torch: Any) -> str | None:
    """Why ``impl`` cannot run on this machine at all (no device of its types, or unavailable)."""
    if impl.devices is None:
        return None
    present = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not any(present.get(d, False) for d in impl.devices):
        return f"needs {' or '.join(impl.devices)}, not available here"
    return impl.unavailable
