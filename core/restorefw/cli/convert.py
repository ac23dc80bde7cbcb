"""``restorefw convert``: import a foreign checkpoint (e.g. official Restormer .pth) as safetensors."""

from __future__ import annotations

from pathlib import Path

import click

from restorefw.cli._common import registry_for_cli

__all__ = ["convert"]


@click.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--arch", help="Model name to import as (default: whichever recognises the keys).")
def convert(src: Path, dst: Path, arch: str | None) -> None:
    """Convert SRC into DST (.safetensors with restorefw metadata).

    SRC: an official checkpoint (.pth/.pt/.ckpt, .safetensors, or a TensorFlow 1 checkpoint given as its
    .index file, its prefix or its folder).
    """
    from restorefw._builder import convert_checkpoint

    if dst.suffix != ".safetensors":
        raise click.UsageError(f"DST must end in .safetensors, got '{dst.name}'")
    resolved, params = convert_checkpoint(src, dst, registry_for_cli(), arch)
    click.echo(f"{src} -> {dst}: {resolved['type']} with {params:,} parameters")
