"""``restorefw export``: a restorefw weights file as plain safetensors with the official key names."""

from __future__ import annotations

from pathlib import Path

import click

from restorefw.cli._common import registry_for_cli

__all__ = ["export"]


@click.command()
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.argument("dst", type=click.Path(dir_okay=False, path_type=Path))
def export(src: Path, dst: Path) -> None:
    """Write SRC (a restorefw weights file, or a run folder: its last checkpoint) to DST, a plain
    .safetensors file whose keys are the official ones, for tools that know the authors' models."""
    from restorefw._builder import export_official

    if dst.suffix != ".safetensors":
        raise click.UsageError(f"DST must end in .safetensors, got '{dst.name}'")
    if src.is_dir():
        src = src / "checkpoints" / "last.safetensors"
        if not src.is_file():
            raise click.UsageError(f"'{src.parent.parent}' is not a run folder with a checkpoint ({src} is missing)")
    model, keys = export_official(src, dst, registry_for_cli())
    click.echo(f"{src} -> {dst}: {model}, {len(keys)} tensors with the official names")
