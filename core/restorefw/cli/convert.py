"""``restorefw convert``: import a foreign checkpoint (e.g. official Restormer .pth) as safetensors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from restorefw.cli._common import registry_for_cli

if TYPE_CHECKING:
    from restorefw.weights import WeightsEntry

__all__ = ["convert"]


def _checked(entry: WeightsEntry, verify: bool) -> str:
    if not verify:
        return "not checked"
    if entry.fully_hashed:
        return "verified"
    return "verified where the catalog has it" if entry.sha256 else "not verified (the catalog has no SHA-256 for it)"


@click.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--arch", help="Model name to import as (default: whichever recognises the keys).")
@click.option("--weights", "name", metavar="NAME",
              help="SRC is the catalogued official checkpoint NAME (see 'restorefw weights'): its model spec is "
                   "used, its SHA-256 checked where known, its licence printed.")
@click.option("--no-verify", is_flag=True, help="With --weights: do not check the SHA-256.")
def convert(src: Path, dst: Path, arch: str | None, name: str | None, no_verify: bool) -> None:
    """Convert SRC into DST (.safetensors with restorefw metadata).

    SRC: an official checkpoint (.pth/.pt/.ckpt, .safetensors, or a TensorFlow 1 checkpoint given as its
    .index file, its prefix or its folder).
    """
    from restorefw._builder import convert_checkpoint, resolve_weights

    if dst.suffix != ".safetensors":
        raise click.UsageError(f"DST must end in .safetensors, got '{dst.name}'")
    if name is not None and arch is not None:
        raise click.UsageError("--weights names the model already; leave out --arch")
    if no_verify and name is None:
        raise click.UsageError("--no-verify goes with --weights")
    registry = registry_for_cli()
    entry = None
    if name is not None:
        src, entry = resolve_weights(registry, name, src, verify=not no_verify)
        click.echo(f"{entry.name}: SHA-256 {_checked(entry, not no_verify)}; licence: {entry.license}")
    resolved, params = convert_checkpoint(src, dst, registry, arch, entry)
    click.echo(f"{src} -> {dst}: {resolved['type']} with {params:,} parameters")
