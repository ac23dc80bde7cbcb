"""Tests of PSNR, SSIM and the luma conversion against independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from restorefw_basic._metrics import psnr, rgb_to_y, ssim


def _pair(seed: int, channels: int = 3, size: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    """Two different target images and noisy, slightly blurred predictions."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    base = torch.stack([0.5 + 0.4 * torch.sin(6 * xx + c) * torch.cos(4 * yy - c)
                        for c in range(channels)])
    target = torch.stack([base, base.flip(-1) * 0.8 + 0.1]).to(torch.float64)
    target = (target + 0.05 * torch.rand(target.shape, generator=g, dtype=torch.float64))
    noise = 0.04 * torch.randn(target.shape, generator=g, dtype=torch.float64)
    pred = (0.5 * target + 0.25 * (target.roll(1, -1) + target.roll(1, -2)) + noise)
    return pred.clamp(0, 1), target.clamp(0, 1)


def _to_numpy_255(x: torch.Tensor, crop: int, y_channel: bool) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W, C) float64 on [0, 255], cropped, optionally luma."""
    img = x.permute(1, 2, 0).numpy().astype(np.float64)
    if crop:
        img = img[crop:-crop, crop:-crop]
    if y_channel:
        luma = img @ np.array([65.481, 128.553, 24.966]) + 16.0
        return luma[..., None]
    return img * 255.0


def _reference_psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a - b) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _reference_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=255, channel_axis=-1,
    ))


@pytest.mark.parametrize("crop", [0, 4])
@pytest.mark.parametrize("y_channel", [False, True])
def test_psnr_and_ssim_match_references(crop: int, y_channel: bool) -> None:
    pred, target = _pair(0)
    got_psnr = psnr(pred, target, crop_border=crop, y_channel=y_channel)
    got_ssim = ssim(pred, target, crop_border=crop, y_channel=y_channel)
    assert got_psnr.shape == (2,) and got_psnr.dtype == torch.float64
    assert got_ssim.shape == (2,) and got_ssim.dtype == torch.float64
    for i in range(2):
        a = _to_numpy_255(pred[i], crop, y_channel)
        b = _to_numpy_255(target[i], crop, y_channel)
        assert got_psnr[i].item() == pytest.approx(_reference_psnr(a, b), abs=1e-9)
        assert got_ssim[i].item() == pytest.approx(_reference_ssim(a, b), abs=1e-6)
    # Two different images must not collapse to the same score.
    assert got_psnr[0] != got_psnr[1] and got_ssim[0] != got_ssim[1]


def test_float32_inputs_are_evaluated_in_float64() -> None:
    pred, target = _pair(1)
    assert torch.allclose(psnr(pred.float(), target.float()),
                          psnr(pred.float().double(), target.float().double()), atol=0)
    assert torch.allclose(ssim(pred.float(), target.float(), y_channel=True),
                          ssim(pred.float().double(), target.float().double(), y_channel=True),
                          atol=0)


def test_grey_images() -> None:
    pred, target = _pair(2, channels=1)
    got = ssim(pred, target)
    for i in range(2):
        a = _to_numpy_255(pred[i], 0, False)
        b = _to_numpy_255(target[i], 0, False)
        assert got[i].item() == pytest.approx(_reference_ssim(a, b), abs=1e-6)
        assert psnr(pred, target)[i].item() == pytest.approx(_reference_psnr(a, b), abs=1e-9)


def test_identical_images() -> None:
    _, target = _pair(3)
    assert torch.isinf(psnr(target, target)).all()
    assert (psnr(target, target) > 0).all()
    assert torch.allclose(ssim(target, target), torch.ones(2, dtype=torch.float64), atol=1e-12)
    assert torch.isinf(psnr(target, target, crop_border=4, y_channel=True)).all()


def test_uniform_error_of_one_level() -> None:
    target = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(4),
                        dtype=torch.float64) * 0.9
    got = psnr(target + 1 / 255, target)
    assert torch.allclose(got, torch.full((2,), 20 * math.log10(255.0), dtype=torch.float64),
                          atol=1e-9)
    assert got[0].item() == pytest.approx(48.13080360867910, abs=1e-9)


def test_rgb_to_y_values() -> None:
    x = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    y = rgb_to_y(x.view(4, 3, 1, 1)).flatten()
    expected = [16.0, 16.0 + 65.481 + 128.553 + 24.966, 16.0 + 65.481, 16.0 + 24.966]
    assert y.tolist() == pytest.approx(expected, abs=1e-4)
    with pytest.raises(ValueError, match="3"):
        rgb_to_y(torch.rand(1, 1, 4, 4))


def test_errors() -> None:
    a = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match=r"\(1, 3, 16, 16\).*\(1, 3, 16, 15\)"):
        psnr(a, torch.rand(1, 3, 16, 15))
    with pytest.raises(ValueError, match="y_channel"):
        ssim(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16), y_channel=True)
    with pytest.raises(ValueError, match="y_channel"):
        psnr(torch.rand(1, 4, 16, 16), torch.rand(1, 4, 16, 16), y_channel=True)
    with pytest.raises(ValueError, match="11x11"):
        ssim(a, a, crop_border=3)
    with pytest.raises(ValueError, match="crop_border"):
        psnr(a, a, crop_border=8)
