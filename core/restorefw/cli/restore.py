"""``restorefw restore``: apply a trained or imported model to images of any size."""

from __future__ import annotations

from pathlib import Path

import click

from restorefw.cli._common import registry_for_cli

__all__ = ["restore"]


def _inputs(paths: tuple[Path, ...]) -> list[Path]:
    from restorefw._errors import DataError
    from restorefw.data import IMAGE_EXTENSIONS

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                raise DataError(f"folder '{path}' holds no images ({', '.join(IMAGE_EXTENSIONS)})")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise DataError(f"input '{path}' does not exist")
    return files


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
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["fp32", "bf16", "fp16"]))
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
    """Restore INPUTS (images or folders) and write PNGs of the same name into OUT."""
    if (checkpoint is None) == (run_dir is None):
        raise click.UsageError("give exactly one of --checkpoint or --run")
    if (adapt_steps is None) != (kernel is None):
        raise click.UsageError("--adapt-steps and --kernel go together")
    from restorefw._builder import load_model
    from restorefw.data import read_image, write_image
    from restorefw.engine import resolve_device, resolve_precision, restore_image
    from restorefw.models import describe

    ckpt = checkpoint or run_dir / "checkpoints" / "last.safetensors"  # type: ignore[operator]
    files = _inputs(inputs)
    registry = registry_for_cli()
    model, meta = load_model(str(ckpt), registry)
    torch_device = resolve_device(device)
    model.to(torch_device)
    zero_shot = None
    if adapt_steps is not None:
        zero_shot = registry.get("model", meta["model"]["type"]).zero_shot
        if zero_shot is None:
            raise click.UsageError(f"model '{meta['model']['type']}' does not support zero-shot adaptation")
    channels = describe(model).in_channels
    for path in files:
        image = read_image(path, channels=channels)[None]
        try:
            if zero_shot is not None:
                restored = zero_shot(model, image, str(kernel), steps=adapt_steps, lr=adapt_lr,
                                     downsample=downsample, tile=tile, tile_overlap=tile_overlap,
                                     precision=resolve_precision(precision, torch_device))
            else:
                restored = restore_image(model, image, torch_device, resolve_precision(precision, torch_device),
                                         tile, tile_overlap, tile_mode)  # type: ignore[arg-type]
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        target = out / f"{path.stem}.png"
        write_image(target, restored[0])
        click.echo(f"{path} -> {target} ({restored.shape[-1]}x{restored.shape[-2]})")
