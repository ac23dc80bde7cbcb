"""``restorefw restore``: apply a trained or imported model to images of any size."""

from __future__ import annotations

from pathlib import Path

import click

from restorefw.cli._common import registry_for_cli

__all__ = ["restore"]


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), help="A .safetensors weights file.")
@click.option("--run", "run_dir", type=click.Path(file_okay=False, path_type=Path), help="A run folder (uses last).")
@click.option("--tile", type=int, help="Tile size (multiple of the model's size multiple); default whole image.")
@click.option("--tile-overlap", type=int, default=32, show_default=True, help="Overlap between tiles.")
@click.option("--tile-mode", type=click.Choice(["auto", "exact", "overlap"]), default="auto", show_default=True,
              help="exact: the model's own seam-free tiling (e.g. Restormer); overlap: blend overlapping tiles; "
                   "auto: exact when the model has it.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["fp32", "bf16", "fp16", "auto"]),
              help="Inference precision (auto: bf16 where the hardware has bf16 matrix units).")
@click.option("--adapt-steps", type=click.IntRange(min=0), default=None,
              help="Zero-shot adaptation steps per image before restoring (models that support it, e.g. MZSR).")
@click.option("--kernel", "kernel", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Blur kernel (.npy/.mat) that degraded the inputs; needed with --adapt-steps.")
@click.option("--adapt-lr", type=float, default=0.01, show_default=True, help="Adaptation step size.")
@click.option("--downsample", type=click.Choice(["direct", "bicubic"]), default="direct", show_default=True,
              help="How the inputs were down-sampled after blurring (adaptation builds I_son the same way).")
def restore(inputs: tuple[Path, ...], out: Path, checkpoint: Path | None, run_dir: Path | None, tile: int | None,
            tile_overlap: int, tile_mode: str, device: str, precision: str, adapt_steps: int | None,
            kernel: Path | None, adapt_lr: float, downsample: str) -> None:
    """Restore INPUTS (images or folders) into PNGs under OUT, keeping grey, alpha and 16 bits."""
    if (checkpoint is None) == (run_dir is None):
        raise click.UsageError("give exactly one of --checkpoint or --run")
    if (adapt_steps is None) != (kernel is None):
        raise click.UsageError("--adapt-steps and --kernel go together")
    from restorefw.engine import RestoreRequest, restore_job

    request = RestoreRequest(
        inputs=inputs, out=out, checkpoint=checkpoint or run_dir / "checkpoints" / "last.safetensors",  # type: ignore[operator]
        tile=tile, tile_overlap=tile_overlap, tile_mode=tile_mode, device=device, precision=precision,  # type: ignore[arg-type]
        adapt_steps=adapt_steps, kernel=kernel, adapt_lr=adapt_lr, downsample=downsample)
    for done in restore_job(request, registry_for_cli()):
        notes = [f"kept {', '.join(done.kept)}"] * bool(done.kept) + [f"converted {c}" for c in done.converted]
        click.echo(f"{done.source} -> {done.target} ({done.width}x{done.height}{'; ' if notes else ''}"
                   f"{'; '.join(notes)})")
