"""Zero-shot adaptation (MZSR meta-test) and the kernel degradation it relies on.

The meta-test of MZSR, for a low-resolution image ``I_LR`` and its (known) blur
kernel ``k``:

1. ``I_son = downsample(k * I_LR)``, the same degradation one level lower;
2. a few plain-SGD steps on ``loss(f(I_son), I_LR)`` over the whole image;
3. the output is ``f(I_LR)`` with the adapted weights.

:func:`adapt` returns an adapted copy of the model, :func:`zero_shot_sr` the
super-resolved image; both leave the given model untouched. The command line
(``restorefw restore --adapt-steps N --kernel k.npy``) needs nothing else.
"""

from __future__ import annotations

import copy
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restorefw.engine import restore_image
from restorefw.models import describe
from restorefw.ops import resolve
from restorefw_basic import blur, load_kernel, subsample

__all__ = [
    "PAPER_STEP_SIZES",
    "Downsample",
    "KernelLike",
    "StepSizes",
    "adapt",
    "adaptation_trajectory",
    "as_kernel",
    "degrade",
    "make_son",
    "step_size",
    "zero_shot_sr",
]

Downsample = Literal["direct", "bicubic"]
KernelLike = Tensor | np.ndarray | str | os.PathLike[str]
LossFn = Callable[[Tensor, Tensor], Tensor]

PAPER_STEP_SIZES: dict[str, list[float]] = {
    "direct_x2": [2e-2, 1e-2, 1e-2, 1e-2, 5e-3],
    "direct_x4": [1e-2, 5e-3, 5e-3, 5e-3, 5e-3, 1e-3],
    "bicubic_x2": [1e-2, 1e-2, 1e-2, 1e-3],
    "multi_scale": [1e-2, 1e-2, 1e-2, 5e-3],
}
"""Meta-test step-size schedules of the official models (per step; the last value repeats)."""


def as_kernel(kernel: KernelLike) -> Tensor:
    """A 2-D float32 kernel summing to 1, from a tensor, an array or a ``.npy``/``.mat`` file."""
    if isinstance(kernel, (str, os.PathLike)):
        return load_kernel(kernel)
    k = torch.as_tensor(kernel, dtype=torch.float32)
    if k.dim() != 2:
        raise ValueError(f"a blur kernel must be 2-D, got shape {tuple(k.shape)}")
    return k / k.sum()


def degrade(hr: Tensor, kernel: Tensor, scale: int, downsample: Downsample = "direct") -> Tensor:
    """Blur with ``kernel`` then down-sample by ``scale``: the MZSR degradation.

    Args:
        hr: images ``(B, C, H, W)``.
        kernel: ``(k, k)`` for all images or ``(B, k, k)`` one per image.
        scale: integer down-sampling factor.
        downsample: ``"direct"`` keeps every ``scale``-th pixel (the paper's g^d);
            ``"bicubic"`` uses antialiased MATLAB ``imresize`` (g^b, the op ``imresize_bicubic``).

    Returns:
        ``(B, C, ceil(H / scale), ceil(W / scale))``.
    """
    out = blur(hr, kernel.to(hr.device, hr.dtype))
    if scale == 1:
        return out
    if downsample == "direct":
        return subsample(out, scale)
    return resolve("imresize_bicubic", out.device, out.dtype)(out, scale=1 / scale)


def make_son(lr_image: Tensor, kernel: Tensor, scale: int, downsample: Downsample = "direct") -> Tensor:
    """``I_son``: the low-resolution image degraded once more with its own kernel."""
    return degrade(lr_image, kernel, scale, downsample)


StepSizes = float | Sequence[float] | str
"""A constant step size, a per-step schedule, or a key of :data:`PAPER_STEP_SIZES`."""


def step_size(lr: StepSizes, step: int) -> float:
    """Learning rate of adaptation step ``step`` (0-based); a list's last value repeats."""
    if isinstance(lr, str):
        if lr not in PAPER_STEP_SIZES:
            raise ValueError(f"unknown step-size schedule '{lr}'; known: {', '.join(PAPER_STEP_SIZES)}")
        lr = PAPER_STEP_SIZES[lr]
    if isinstance(lr, (int, float)):
        return float(lr)
    if not lr:
        raise ValueError("an adaptation learning-rate schedule needs at least one value")
    return float(lr[min(step, len(lr) - 1)])


def _batched(image: Tensor) -> Tensor:
    if image.dim() == 3:
        return image[None]
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError(f"expected one image (C, H, W) or (1, C, H, W), got shape {tuple(image.shape)}")
    return image


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def adaptation_trajectory(
    model: nn.Module,
    lr_image: Tensor,
    kernel: KernelLike,
    steps: int,
    lr: StepSizes = 0.01,
    scale: int | None = None,
    downsample: Downsample = "direct",
    loss_fn: LossFn | None = None,
) -> Iterator[tuple[int, nn.Module, float | None]]:
    """Adapt a copy of ``model`` step by step, yielding it after each step.

    Yields ``(n, adapted, loss)`` for ``n = 0 .. steps``: the copy after ``n``
    SGD steps and the son loss of step ``n`` before its update (``None`` for
    ``n = 0``). The same module object is yielded each time and keeps changing,
    so use it before asking for the next step.
    """
    scale = describe(model).scale if scale is None else scale
    loss_fn = F.l1_loss if loss_fn is None else loss_fn
    work = copy.deepcopy(model)
    device = _device(work)
    # Whole-image convolutions on the CPU run markedly faster in channels-last layout.
    fmt = torch.channels_last if device.type == "cpu" else torch.contiguous_format
    work = work.to(memory_format=fmt).train()
    params = [p for p in work.parameters() if p.requires_grad]
    if not params:  # a model handed over fully frozen (e.g. loaded for inference): adapt every weight
        params = [p.requires_grad_(True) for p in work.parameters()]
    target = _batched(lr_image).to(device, torch.float32)
    yield 0, work, None
    if steps <= 0:
        return
    son = make_son(target, as_kernel(kernel), scale, downsample)
    height, width = target.shape[-2:]
    inputs, kwargs = (son.contiguous(memory_format=fmt),), {}
    if hasattr(work, "upsample"):
        # Enlarge to exactly the LR size, so odd sizes stay aligned with the target.
        upsampled = resolve("imresize_bicubic", son.device, son.dtype)(son, size=(height, width))
        kwargs = {"upsampled": upsampled.contiguous(memory_format=fmt)}
    for n in range(steps):
        work.train()  # callers may have switched it to eval mode to use it between steps
        with torch.enable_grad():
            pred = work(*inputs, **kwargs)[..., :height, :width]
            loss = loss_fn(pred, target)
            grads = torch.autograd.grad(loss, params, allow_unused=True)
        rate = step_size(lr, n)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                if g is not None:
                    p.sub_(g, alpha=rate)
        yield n + 1, work, float(loss.detach())


def adapt(
    model: nn.Module,
    lr_image: Tensor,
    kernel: KernelLike,
    steps: int = 1,
    lr: StepSizes = 0.01,
    scale: int | None = None,
    downsample: Downsample = "direct",
    loss_fn: LossFn | None = None,
) -> nn.Module:
    """Zero-shot adaptation of ``model`` to one image (MZSR meta-test, steps 1-3).

    Args:
        model: a super-resolution model (e.g. a meta-trained :class:`MZSRNet`).
        lr_image: the low-resolution image ``(C, h, w)`` or ``(1, C, h, w)`` in [0, 1].
        kernel: its blur kernel: tensor, array, or a ``.npy``/``.mat`` path.
        steps: number of plain-SGD steps on ``loss(f(I_son), I_LR)``.
        lr: step size, a per-step schedule whose last value repeats, or the name of
            an official schedule in :data:`PAPER_STEP_SIZES` (e.g. ``"direct_x2"``).
        scale: super-resolution factor; defaults to ``model.scale``.
        downsample: how ``I_son`` is made, ``"direct"`` or ``"bicubic"``; use
            the one that made ``I_LR``.
        loss_fn: adaptation loss, L1 by default as in the paper.

    Returns:
        An adapted copy of ``model`` (on the model's device); ``model`` is unchanged.
    """
    # Only the last step's copy is kept: each step's copy is dropped as the next one arrives.
    last = deque(adaptation_trajectory(model, lr_image, kernel, steps, lr, scale, downsample, loss_fn), maxlen=1)
    return last[0][1] if last else model


def zero_shot_sr(
    model: nn.Module,
    lr_image: Tensor,
    kernel: KernelLike,
    steps: int = 1,
    lr: StepSizes = 0.01,
    scale: int | None = None,
    downsample: Downsample = "direct",
    loss_fn: LossFn | None = None,
    *,
    tile: int | None = None,
    tile_overlap: int = 32,
    precision: str = "fp32",
) -> Tensor:
    """Adapt ``model`` to ``lr_image`` with :func:`adapt`, then super-resolve it.

    Args:
        model, lr_image, kernel, steps, lr, scale, downsample, loss_fn: as in :func:`adapt`.
        tile: tile size of the final pass (None: whole image); adaptation itself
            always sees the whole image.
        tile_overlap: overlap between tiles.
        precision: precision of the final pass (``fp32``, ``bf16``, ``fp16``).

    Returns:
        The super-resolved image ``(1, C, h * s, w * s)`` on the CPU, clipped to [0, 1].
    """
    adapted = adapt(model, lr_image, kernel, steps, lr, scale, downsample, loss_fn)
    return restore_image(adapted, _batched(lr_image), _device(adapted), precision, tile, tile_overlap)
