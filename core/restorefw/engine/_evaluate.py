"""Evaluation of a model on fixed degraded validation pairs, and whole-image inference."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restorefw._task import Task
from restorefw._tiling import TileMode, tiled_forward
from restorefw.engine._device import autocast
from restorefw.models import describe, model_precision

__all__ = ["EvalPair", "baseline_image", "degrade_seeded", "evaluate", "make_eval_pairs", "restore_image",
           "self_ensemble"]


@dataclass
class EvalPair:
    """One validation image: degraded input, target and what "doing nothing" gives."""

    name: str
    lq: Tensor
    target: Tensor
    baseline: Tensor


def degrade_seeded(task: Task, image: Tensor, seed: int, index: int) -> tuple[Tensor, Tensor]:
    """``(lq, target)`` for the ``index``-th clean ``(1, C, H, W)`` image, with a generator of its own.

    The generator's seed depends on ``seed`` and ``index`` only, so every evaluation of the same
    images (a run's validation, ``restorefw eval`` on a folder of them) sees the same inputs.
    """
    return task.degradation(image, torch.Generator().manual_seed(seed * 7919 + index))


def make_eval_pairs(dataset: Any, task: Task, seed: int, max_size: int | None) -> list[EvalPair]:
    """Degrade each validation image once, with a generator seeded per image."""
    from restorefw.data import eval_images

    pairs = []
    images = eval_images(dataset, max_size=max_size, multiple=task.scale)
    for index, (name, item) in enumerate(zip(dataset.names, images, strict=True)):
        if isinstance(item, tuple):
            lq, target = item[0][None], item[1][None]
        else:
            lq, target = degrade_seeded(task, item[None], seed, index)
        pairs.append(EvalPair(name, lq[0], target[0], baseline_image(lq, target, task)[0]))
    return pairs


def baseline_image(lq: Tensor, target: Tensor, task: Task | None = None) -> Tensor:
    """What "doing nothing" gives at the target's size: the task's baseline, the input itself, or bicubic.

    Without a task baseline, a smaller input is enlarged by MATLAB-style bicubic (the op
    ``imresize_bicubic``) when a plugin registers it, else by torch's bicubic interpolation.
    """
    if task is not None and task.baseline is not None:
        return task.baseline(lq).clamp(0, 1)
    if lq.shape[-2:] == target.shape[-2:] and lq.shape[1] == target.shape[1]:
        return lq.clamp(0, 1)
    from restorefw._errors import RegistryError
    from restorefw.ops import resolve

    try:
        out = resolve("imresize_bicubic", lq.device, lq.dtype)(lq, size=tuple(target.shape[-2:]))
    except RegistryError:
        out = F.interpolate(lq, size=target.shape[-2:], mode="bicubic", align_corners=False)
    return out[:, : target.shape[1]].clamp(0, 1)


def self_ensemble(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """Average ``fn`` over the 8 flips and quarter turns of ``x`` (each result turned back).

    EDSR's and IPT's ``forward_x8`` (``--self_ensemble``): the same eight transforms, averaged.
    """
    total: Tensor | None = None
    for k in range(8):
        flip, turns = k >= 4, k % 4
        y = torch.rot90(x.flip(-1) if flip else x, turns, dims=(-2, -1))
        y = torch.rot90(fn(y), -turns, dims=(-2, -1))
        y = y.flip(-1) if flip else y
        total = y if total is None else total + y
    assert total is not None
    return total / 8


def restore_image(
    model: nn.Module,
    lq: Tensor,
    device: torch.device,
    precision: str = "fp32",
    tile: int | None = None,
    overlap: int = 32,
    tile_mode: TileMode = "auto",
    multiple: int = 1,
) -> Tensor:
    """Run a model on one ``(B, C, H, W)`` image of any size; returns a CPU tensor in [0, 1].

    ``tile``, ``overlap`` and ``tile_mode`` are those of :func:`restorefw._tiling.tiled_forward`.
    Inputs are padded (reflect, bottom and right) to a multiple of the model's size multiple
    and of ``multiple`` (a test script's own padding, e.g. Restormer's 8), and the output is cropped back.
    Models whose :class:`~restorefw.models.ModelInfo` says ``cpu_channels_last`` get a channels-last
    input on the CPU, so that their convolutions run in oneDNN's NHWC kernels (values are the same).
    A reduced ``precision`` the model does not accept for inference
    (:func:`restorefw.models.model_precision`) runs in fp32.
    """
    model.eval()
    precision = model_precision(model, precision, "inference")
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
            multiple=math.lcm(info.size_multiple, multiple),
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
