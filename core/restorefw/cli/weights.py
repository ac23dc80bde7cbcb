"""``restorefw weights``: the catalog of known official checkpoints; ``verify`` checks a downloaded file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from restorefw.cli._common import EXIT_USAGE, registry_for_cli

if TYPE_CHECKING:
    from restorefw.weights import WeightsEntry

__all__ = ["weights"]


def _hashes(entry: WeightsEntry) -> str:
    if not entry.sha256:
        return "unknown"
    known = f"{len(entry.sha256)} of {len(entry.files)} files" if len(entry.files) > 1 else ""
    return known or f"{entry.sha256[entry.files[0]][:12]}…"


def _as_json(entry: WeightsEntry) -> dict[str, Any]:
    return {**entry.model_dump(mode="json"), "model_spec": entry.model_spec}


@click.group(invoke_without_command=True)
@click.option("--pattern", help="Glob on names, e.g. 'restormer/*'.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, every field.")
@click.pass_context
def weights(ctx: click.Context, pattern: str | None, as_json: bool) -> None:
    """List the official checkpoints restorefw knows: source, file, SHA-256, licence, protocol.

    restorefw downloads nothing: fetch a file from its source, check it with 'restorefw weights
    verify NAME FILE', import it with 'restorefw convert --weights NAME FILE DST'.
    """
    if ctx.invoked_subcommand is not None:
        return
    entries = registry_for_cli().weights.list(pattern)
    if as_json:
        click.echo(json.dumps([_as_json(e) for e in entries], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "model", "file", "SHA-256", "licence", "protocol", "source", box=None, pad_edge=False)
    for e in entries:
        table.add_row(e.name, e.model, " + ".join(e.files), _hashes(e), e.license, e.protocol or "-", e.source)
    # Piped output keeps one line per checkpoint, so that grep and cut work on it.
    Console(width=None if sys.stdout.isatty() else 100_000, highlight=False).print(table)


@weights.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(name: str, as_json: bool) -> None:
    """Everything the catalog says about checkpoint NAME."""
    entry = registry_for_cli().weights.get(name)
    if as_json:
        click.echo(json.dumps(_as_json(entry), indent=2))
        return
    fields = [("model spec", json.dumps(entry.model_spec)), ("task", entry.task), ("source", entry.source),
              *(("mirror", m) for m in entry.mirrors), ("licence", entry.license),
              ("protocol", entry.protocol or "-"), ("registered by", f"plugin '{entry.plugin}'")]
    click.echo(entry.name)
    for label, value in fields:
        click.echo(f"  {label + ':':<15}{value}")
    for file in entry.files:
        click.echo(f"  {'file:':<15}{file}  sha256 {entry.sha256.get(file, 'unknown')}")
    for condition, metrics in entry.reported.items():
        shown = ", ".join(f"{metric} {value:g}" for metric, value in metrics.items())
        click.echo(f"  {'reported:':<15}{condition}: {shown}")
    for label, text in (("reference", entry.reference), ("notes", entry.notes)):
        if text:
            click.echo(f"  {label + ':':<15}{text}")


@weights.command()
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
def verify(name: str, file: Path) -> None:
    """Check that FILE is the published checkpoint NAME (SHA-256 of each of its files).

    FILE is the checkpoint, or the folder holding its files; for a TensorFlow 1 checkpoint its
    .index, its prefix or its folder. Exit 0 when every known hash matches, 2 when one does not.
    """
    from restorefw.weights import verify_checkpoint

    entry = registry_for_cli().weights.get(name)
    checks = verify_checkpoint(entry, file)
    for check in checks:
        if check.ok is None:
            click.echo(f"{check.path}: sha256 {check.actual} (the catalog has no hash for {check.name}: not verified)")
        elif check.ok:
            click.echo(f"{check.path}: sha256 {check.actual} matches the published {check.name}")
        else:
            click.echo(f"error: {check.mismatch(name)}", err=True)
    if any(check.ok is False for check in checks):
        sys.exit(EXIT_USAGE)
