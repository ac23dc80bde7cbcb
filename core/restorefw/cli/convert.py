"""``restorefw convert``: import a foreign checkpoint (e.g. official Restormer .pth) as safetensors."""

from __future__ import annotations

from pathlib import Path

import click

from restorefw.cli._common import registry_for_cli

__all__ = ["convert"]


@click.command()
@click.argument("src", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("dst", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--arch", help="Model name to import as (default: whichever recognises the keys).")
def convert(src: Path, dst: Path, arch: str | None) -> None:
    """Convert SRC (.pth/.pt/.safetensors) into DST (.safetensors with restorefw metadata)."""
    from restorefw.engine import read_state_dict, save_weights
    from restorefw.models import infer_model_spec, load_into

    if dst.suffix != ".safetensors":
        raise click.UsageError(f"DST must end in .safetensors, got '{dst.name}'")
    registry = registry_for_cli()
    state = read_state_dict(src)
    spec = infer_model_spec(state, registry, arch)
    resolved = registry.resolve("model", spec, "model")
    model = registry.build("model", resolved)
    load_into(model, state, str(src))
    save_weights(dst, model.state_dict(), {"model": resolved, "source": src.name})
    params = sum(p.numel() for p in model.parameters())
    click.echo(f"{src} -> {dst}: {resolved['type']} with {params:,} parameters")
