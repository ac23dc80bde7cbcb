"""The quality cost of a precision: PSNR/SSIM against fp32 on a fixed evaluation set, after 8-bit rounding.

The evaluation set is centre crops of scikit-image's sample images with Gaussian noise
(sigma 25/255, one seed per image) for the denoisers, and the same crops blurred and
down-sampled x2 for MZSR. restorefw ships no weights, so each model is first trained for
a fixed number of fp32 steps from a fixed seed on the same task: the deltas belong to
those weights, a working point where outputs are images rather than noise, not to a
published checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = [
    "EVAL_NAMES", "NOISE_SIGMA", "EvalSet", "Scores", "eval_set", "quantize", "restore_all", "scores", "train_denoiser",
]

NOISE_SIGMA = 25 / 255
EVAL_NAMES: tuple[str, ...] = ("astronaut", "camera", "chelsea", "coffee", "rocket")
"""The evaluation images: scikit-image's default samples (camera is grey, replicated to RGB)."""


@dataclass(frozen=True)
class EvalSet:
    """Clean crops, their noisy versions, and the names of the images."""

    names: tuple[str, ...]
    clean: Tensor
    noisy: Tensor


@dataclass(frozen=True)
class Scores:
    """Mean PSNR (dB) and SSIM of restored images, after rounding to 8 bits."""

    psnr: float
    ssim: float


def eval_set(size: int, names: tuple[str, ...] = EVAL_NAMES) -> EvalSet:
    """Centre ``size``² crops of the sample images (RGB; grey ones replicated) with seeded Gaussian noise."""
    from restorefw.data import SkimageSamples

    images = SkimageSamples(list(names))
    crops = []
    for index in range(len(images)):
        image = images[index]
        top, left = (image.shape[1] - size) // 2, (image.shape[2] - size) // 2
        crops.append(image[:, top : top + size, left : left + size])
    clean = torch.stack(crops).float()
    noise = torch.stack([torch.randn(c.shape, generator=torch.Generator().manual_seed(i)) for i, c in enumerate(crops)])
    return EvalSet(tuple(names), clean, (clean + NOISE_SIGMA * noise).clamp(0, 1))


def quantize(x: Tensor) -> Tensor:
    """Round [0, 1] images to 8-bit levels, as saving them as PNG does."""
    return (x.float().clamp(0, 1) * 255).round() / 255


def scores(restored: Tensor, target: Tensor) -> Scores:
    """Mean PSNR and SSIM of ``restored`` against ``target``, both rounded to 8 bits first."""
    from restorefw_basic._metrics import psnr, ssim

    pred, ref = quantize(restored), quantize(target)
    return Scores(float(psnr(pred, ref).mean()), float(ssim(pred, ref).mean()))


def train_denoiser(model: nn.Module, steps: int, patch: int, batch: int, lr: float = 1e-3, seed: int = 0,
                   device: torch.device | None = None) -> nn.Module:
    """``steps`` fp32 AdamW steps of L1 denoising (sigma 25/255) on random sample-image patches.

    Patches and noise are drawn on the CPU from ``seed``, so every device trains on the same data.
    """
    from restorefw.data import SkimageSamples, sample_batch

    device = device or torch.device("cpu")
    data = SkimageSamples()
    generator = torch.Generator().manual_seed(seed)
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        clean = sample_batch(data, batch, patch, generator)
        noisy = clean + NOISE_SIGMA * torch.randn(clean.shape, generator=generator)
        loss = (model(noisy.to(device)) - clean.to(device)).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def restore_all(model: Callable[[Tensor], Tensor], inputs: Tensor, dtype: torch.dtype | None) -> Tensor:
    """``model`` on each image under autocast to ``dtype`` (``None``: fp32), without autograd; CPU results.

    The images are moved to the model's device (that of its first parameter) first.
    """
    params = model.parameters() if isinstance(model, nn.Module) else iter(())
    device = next(params, torch.empty(0)).device
    outs = []
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        for image in inputs:
            outs.append(model(image[None].to(device)).float().cpu())
    return torch.cat(outs)
