"""``restorefw restore`` as a job: which file goes where, and outputs that keep what their inputs were.

Outputs are PNG files under the output folder, at the same relative place as their input (a file
given directly goes to the top). Two inputs that would give the same output name (``photo.png``
and ``photo.jpg``) get their extension in the name (``photo_png.png``, ``photo_jpg.png``); an
output that would replace an input is refused before anything is written. A grey input gives a
grey output, an alpha channel is carried over (resized with the image when the model enlarges
it), and 16-bit inputs give 16-bit outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restorefw._builder import load_model
from restorefw._errors import ConfigError, DataError
from restorefw._registry import Registry
from restorefw._tiling import TileMode
from restorefw.data import IMAGE_EXTENSIONS, image_format, read_alpha, read_image, write_image
from restorefw.engine._device import resolve_device, resolve_precision
from restorefw.engine._evaluate import restore_image
from restorefw.models import describe

__all__ = ["RestoreRequest", "Restored", "plan_outputs", "restore_files", "restore_job"]

# ITU-R BT.601 luma, as read_image reduces colour to grey.
_LUMA = (0.299, 0.587, 0.114)


@dataclass
class Restored:
    """One written output and what was kept or changed on the way."""

    source: Path
    target: Path
    width: int
    height: int
    kept: list[str] = field(default_factory=list)
    converted: list[str] = field(default_factory=list)


def _listed(paths: Sequence[Path]) -> list[tuple[Path, Path]]:
    """``(file, name relative to where it was given)`` for every image among ``paths``."""
    files: list[tuple[Path, Path]] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
            if not found:
                raise DataError(f"folder '{path}' holds no images ({', '.join(IMAGE_EXTENSIONS)})")
            files += [(p, p.relative_to(path)) for p in found]
        elif path.exists():
            files.append((path, Path(path.name)))
        else:
            raise DataError(f"input '{path}' does not exist")
    return files


def plan_outputs(inputs: Sequence[Path], out: Path) -> list[tuple[Path, Path]]:
    """``(input file, output file)`` for every image among ``inputs``.

    Raises:
        DataError: a missing input, an empty folder, or an output that would replace an input.
    """
    files = _listed(inputs)
    targets = [out / rel.with_suffix(".png") for _, rel in files]
    keys = [str(t).lower() for t in targets]
    plan = []
    for (source, rel), target, key in zip(files, targets, keys, strict=True):
        if keys.count(key) > 1:
            target = out / rel.parent / f"{rel.stem}_{rel.suffix.lstrip('.').lower()}.png"
        plan.append((source, target))
    sources = {p.resolve() for p, _ in plan}
    for _, target in plan:
        if target.resolve() in sources:
            raise DataError(f"writing '{target}' would replace an input; choose another --out")
    return plan


def _as_grey(image: Tensor) -> Tensor:
    weights = image.new_tensor(_LUMA).view(1, 3, 1, 1)
    return (image * weights).sum(dim=1, keepdim=True).clamp(0, 1)


def restore_files(
    model: nn.Module,
    plan: Sequence[tuple[Path, Path]],
    run: Callable[[Tensor], Tensor],
) -> Iterator[Restored]:
    """Restore each planned file with ``run`` (a ``(1, C, H, W)`` → ``(1, C', sH, sW)`` function) and write it.

    Args:
        model: the model ``run`` applies (its :class:`ModelInfo` says which channels it reads).
        plan: from :func:`plan_outputs`.
        run: the restoration of one image: plain, tiled or with zero-shot adaptation.

    Yields:
        What was written, file by file (a file is written before the next one is read).
    """
    info = describe(model)
    for source, target in plan:
        fmt = image_format(source)
        restored = run(read_image(source, channels=info.in_channels)[None])
        kept, converted = [], []
        if fmt.channels == 1 and restored.shape[1] == 3:
            restored, _ = _as_grey(restored), kept.append("grey")
        elif fmt.channels == 3 and restored.shape[1] == 1:
            converted.append(f"colour to grey (the model has {info.in_channels} channel)")
        elif fmt.channels == 1:
            kept.append("grey")
        alpha = read_alpha(source)
        if alpha is not None:
            plane = alpha[None]
            if plane.shape[-2:] != restored.shape[-2:]:
                plane = F.interpolate(plane, size=restored.shape[-2:], mode="bicubic", align_corners=False)
            restored = torch.cat([restored, plane.clamp(0, 1).to(restored.dtype)], dim=1)
            kept.append("alpha" if plane.shape[-2:] == alpha.shape[-2:] else "alpha (resized, bicubic)")
        if fmt.bits == 16:
            kept.append("16-bit")
        write_image(target, restored[0], bit_depth=fmt.bits)
        yield Restored(source, target, restored.shape[-1], restored.shape[-2], kept, converted)


@dataclass(frozen=True)
class RestoreRequest:
    """The options of ``restorefw restore``.

    Attributes:
        inputs: image files and folders.
        out: the output folder.
        checkpoint: a restorefw weights file (its metadata names the model).
        tile, tile_overlap, tile_mode: tiled inference (see :func:`restorefw.engine.restore_image`).
        device, precision: where and how to compute.
        adapt_steps, kernel, adapt_lr, downsample: zero-shot adaptation per image (models with ``zero_shot``).
    """

    inputs: tuple[Path, ...]
    out: Path
    checkpoint: Path
    tile: int | None = None
    tile_overlap: int = 32
    tile_mode: TileMode = "auto"
    device: str = "auto"
    precision: str = "fp32"
    adapt_steps: int | None = None
    kernel: Path | None = None
    adapt_lr: float = 0.01
    downsample: str = "direct"


def restore_job(request: RestoreRequest, registry: Registry) -> Iterator[Restored]:
    """Load the model, plan the outputs (refusing to replace an input) and restore file by file.

    Raises:
        ConfigError: adaptation asked of a model without it, or tiling options the model cannot use.
        DataError: missing inputs, outputs that would replace inputs, unreadable images.
    """
    plan = plan_outputs(request.inputs, request.out)
    model, meta = load_model(str(request.checkpoint), registry)
    device = resolve_device(request.device)
    precision = resolve_precision(request.precision, device)
    model.to(device)
    if request.adapt_steps is not None:
        zero_shot = registry.get("model", meta["model"]["type"]).zero_shot
        if zero_shot is None:
            raise ConfigError(f"model '{meta['model']['type']}' does not support zero-shot adaptation",
                              "--adapt-steps")

        def run(image: Tensor) -> Tensor:
            return zero_shot(model, image, str(request.kernel), steps=request.adapt_steps, lr=request.adapt_lr,
                             downsample=request.downsample, tile=request.tile, tile_overlap=request.tile_overlap,
                             precision=precision)
    else:

        def run(image: Tensor) -> Tensor:
            return restore_image(model, image, device, precision, request.tile, request.tile_overlap,
                                 request.tile_mode)

    def checked(image: Tensor) -> Tensor:
        try:
            return run(image)
        except ValueError as exc:  # tiling options that do not fit the model
            raise ConfigError(str(exc), "--tile") from None

    yield from restore_files(model, plan, checked)
