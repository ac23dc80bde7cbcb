"""Evaluation of a model on fixed degraded validation pairs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restorefw._task import Task
from restorefw._tiling import TileMode, tiled_forward
from restorefw.engine._device import autocast
from restorefw.models import describe

__all__ = ["EvalPair", "evaluate", "make_eval_pairs", "restore_image"]


@dataclass
class EvalPair:
    """One validation image: degraded input, target and what "doing nothing" gives."""

    name: str
    lq: Tensor
    target: Tensor
    baseline: Tensor


def make_eval_pairs(dataset: Any, task: Task, seed: int, max_size: int | None) -> list[EvalPair]:
    """Degrade each validation image once, with a generator seeded per image."""
    from restorefw.data import eval_images

    pairs = []
    images = eval_images(dataset, max_size=max_size, multiple=task.scale)
    for index, (name, item) in enumerate(zip(dataset.names, images, strict=True)):
        generator = torch.Generator().manual_seed(seed * 7919 + index)
        if isinstance(item, tuple):
            lq, target = item[0][None], item[1][None]
        else:
            lq, target = task.degradation(item[None], generator)
        pairs.append(EvalPair(name, lq[0], target[0], _baseline(task, lq, target)[0]))
    return pairs


def _baseline(task: Task, lq: Tensor, target: Tensor) -> Tensor:
    if task.baseline is not None:
        return task.baseline(lq).clamp(0, 1)
    if lq.shape[-2:] == target.shape[-2:] and lq.shape[1] == target.shape[1]:
        return lq.clamp(0, 1)
    out = F.interpolate(lq, size=target.shape[-2:], mode="bicubic", align_corners=False)
    return out[:, : target.shape[1]].clamp(0, 1)


def restore_image(
    model: nn.Module,
    lq: Tensor,
    device: torch.device,
    precision: str = "fp32",
    tile: int | None = None,
    overlap: int = 32,
    tile_mode: TileMode = "auto",
) -> Tensor:
    """Run a model on one ``(B, C, H, W)`` image of any size; returns a CPU tensor in [0, 1].

    ``tile``, ``overlap`` and ``tile_mode`` are those of :func:`restorefw._tiling.tiled_forward`.
    Models whose :class:`~restorefw.models.ModelInfo` says ``cpu_channels_last`` get a channels-last
    input on the CPU, so that their convolutions run in oneDNN's NHWC kernels (values are the same).
    """
    model.eval()
    info = describe(model)
    lq = lq.to(device)
    if device.type == "cpu" and lq.dim() == 4 and info.cpu_channels_last:
        lq = lq.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), autocast(device, precision):
        out = tiled_forward(
            model,
            lq,
            tile=tile,
            overlap=overlap,
            multiple=info.size_multiple,
            scale=info.scale,
            mode=tile_mode,
        )
    return out.float().clamp(0, 1).cpu()


def evaluate(
    model: nn.Module,
    pairs: Sequence[EvalPair],
    metrics: dict[str, Callable[[Tensor, Tensor], Tensor]],
    device: torch.device,
    precision: str = "fp32",
    tile: int | None = None,
    overlap: int = 32,
    tile_mode: TileMode = "auto",
) -> tuple[dict[str, float], list[dict[str, Any]], list[Tensor]]:
    """Score the model on every pair.

    Returns:
        Mean of each metric, per-image records (restored and input scores) and
        the restored images.
    """
    records, outputs = [], []
    for pair in pairs:
        restored = restore_image(model, pair.lq[None], device, precision, tile, overlap, tile_mode)
        record: dict[str, Any] = {"image": pair.name}
        for name, metric in metrics.items():
            target = pair.target[None].float()
            record[name] = float(metric(restored, target)[0])
            record[f"input_{name}"] = float(metric(pair.baseline[None].float(), target)[0])
        records.append(record)
        outputs.append(restored[0])
    means = {k: sum(r[k] for r in records) / len(records) for k in records[0] if k != "image"} if records else {}
    model.train()
    return means, records, outputs
