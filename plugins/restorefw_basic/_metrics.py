"""PSNR and SSIM with the conventions of the BasicSR evaluation scripts.

Published restoration numbers are computed on the [0, 255] scale, optionally on
the BT.601 luma channel as MATLAB's ``rgb2ycbcr`` defines it, after cropping a
border of ``scale`` pixels for super-resolution. Reproducing those tables needs
the same choices, so everything here runs in float64 on [0, 255] values.

The inputs are not rounded to 8-bit integers; quantise them first to match
protocols that evaluate saved PNG files.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["psnr", "rgb_to_y", "ssim"]

_MAX_VALUE = 255.0
_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_SSIM_C1 = (0.01 * _MAX_VALUE) ** 2
_SSIM_C2 = (0.03 * _MAX_VALUE) ** 2


def rgb_to_y(x: Tensor) -> Tensor:
    """Luma of RGB images as MATLAB ``rgb2ycbcr`` computes it (BT.601, studio swing).

    Args:
        x: RGB images in [0, 1], ``(B, 3, H, W)``, channels in R, G, B order.

    Returns:
        ``(B, 1, H, W)`` luma on the [0, 255] scale, in [16, 235] for inputs in
        [0, 1]; same dtype and device as ``x``.

    Raises:
        ValueError: if ``x`` is not ``(B, 3, H, W)``.
    """
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"rgb_to_y expects RGB images (B, 3, H, W), got shape {tuple(x.shape)}")
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return 16.0 + 65.481 * r + 128.553 * g + 24.966 * b


def _prepare(
    pred: Tensor, target: Tensor, crop_border: int, y_channel: bool, name: str
) -> tuple[Tensor, Tensor]:
    """Validate, crop and convert both images to float64 on the [0, 255] scale."""
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}"
        )
    if pred.dim() != 4:
        raise ValueError(f"{name} expects (B, C, H, W) images, got shape {tuple(pred.shape)}")
    if y_channel and pred.shape[1] != 3:
        raise ValueError(
            f"{name}: y_channel=True needs RGB images with 3 channels, got {pred.shape[1]}"
        )
    if crop_border < 0:
        raise ValueError(f"{name}: crop_border must be >= 0, got {crop_border}")
    height, width = pred.shape[-2:]
    if 2 * crop_border >= min(height, width):
        raise ValueError(
            f"{name}: crop_border={crop_border} leaves nothing of a {height}x{width} image"
        )

    def convert(img: Tensor) -> Tensor:
        img = img.to(torch.float64)
        if crop_border > 0:
            img = img[..., crop_border:-crop_border, crop_border:-crop_border]
        return rgb_to_y(img) if y_channel else img * _MAX_VALUE

    return convert(pred), convert(target)


def psnr(pred: Tensor, target: Tensor, crop_border: int = 0, y_channel: bool = False) -> Tensor:
    """Peak signal-to-noise ratio per image, on the [0, 255] scale.

    ``10 * log10(255**2 / mse)`` with the mean squared error over all channels
    and pixels of each image. Identical images give ``+inf``: no epsilon is
    added, because one would bias every high-quality result.

    Args:
        pred: restored images in [0, 1], ``(B, C, H, W)``.
        target: ground-truth images, same shape.
        crop_border: pixels removed from each edge before anything else.
        y_channel: evaluate the BT.601 luma only (needs ``C == 3``).

    Returns:
        ``(B,)`` float64 PSNR values in dB, on the inputs' device.

    Raises:
        ValueError: on mismatched or unsupported shapes, a bad ``crop_border``,
            or ``y_channel`` with a channel count other than 3.
    """
    p, t = _prepare(pred, target, crop_border, y_channel, "psnr")
    mse = (p - t).pow(2).mean(dim=(1, 2, 3))
    # Division by a zero mse yields +inf in IEEE arithmetic, which is what we want.
    return 10.0 * torch.log10(_MAX_VALUE**2 / mse)


def _gaussian_window(device: torch.device) -> Tensor:
    """Normalised 11x11 Gaussian window (sigma 1.5) as a ``(1, 1, 11, 11)`` filter."""
    offsets = torch.arange(_SSIM_WINDOW, dtype=torch.float64, device=device)
    offsets = offsets - (_SSIM_WINDOW - 1) / 2
    g = torch.exp(-(offsets**2) / (2 * _SSIM_SIGMA**2))
    g = g / g.sum()
    return torch.outer(g, g).view(1, 1, _SSIM_WINDOW, _SSIM_WINDOW)


def ssim(pred: Tensor, target: Tensor, crop_border: int = 0, y_channel: bool = False) -> Tensor:
    """Structural similarity per image (Wang et al. 2004), BasicSR flavour.

    Local statistics use an 11x11 Gaussian window with sigma 1.5 and population
    (not sample) covariances; only windows lying fully inside the image count
    ('valid' filtering). The SSIM map is averaged per channel, then over channels.

    Args:
        pred: restored images in [0, 1], ``(B, C, H, W)``.
        target: ground-truth images, same shape.
        crop_border: pixels removed from each edge before anything else.
        y_channel: evaluate the BT.601 luma only (needs ``C == 3``).

    Returns:
        ``(B,)`` float64 SSIM values, on the inputs' device.

    Raises:
        ValueError: on mismatched or unsupported shapes, a bad ``crop_border``,
            ``y_channel`` with a channel count other than 3, or an image smaller
            than the 11x11 window after cropping.
    """
    p, t = _prepare(pred, target, crop_border, y_channel, "ssim")
    batch, channels, height, width = p.shape
    if min(height, width) < _SSIM_WINDOW:
        raise ValueError(
            f"ssim needs images of at least {_SSIM_WINDOW}x{_SSIM_WINDOW} after cropping, "
            f"got {height}x{width}"
        )
    # Channels are independent, so fold them into the batch and filter with one window.
    p = p.reshape(batch * channels, 1, height, width)
    t = t.reshape(batch * channels, 1, height, width)
    window = _gaussian_window(p.device)

    # One convolution for all five local moments.
    stacked = torch.cat([p, t, p * p, t * t, p * t], dim=1)
    moments = F.conv2d(stacked.view(-1, 1, height, width), window)
    moments = moments.view(batch * channels, 5, *moments.shape[-2:])
    mu_p, mu_t, e_pp, e_tt, e_pt = moments.unbind(dim=1)

    var_p = e_pp - mu_p * mu_p
    var_t = e_tt - mu_t * mu_t
    cov = e_pt - mu_p * mu_t
    numerator = (2 * mu_p * mu_t + _SSIM_C1) * (2 * cov + _SSIM_C2)
    denominator = (mu_p * mu_p + mu_t * mu_t + _SSIM_C1) * (var_p + var_t + _SSIM_C2)
    ssim_map = numerator / denominator
    return ssim_map.mean(dim=(-2, -1)).view(batch, channels).mean(dim=1)
