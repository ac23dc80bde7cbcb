"""Task objects of the basic plugin: sr, denoise, derain, deblur and custom (configs + factories)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from pydantic import Field
from torch import Tensor

from restorefw import ComponentField, StrictModel, Task
from restorefw_basic._components import (
    BicubicDown,
    Chain,
    Degrade,
    GaussianNoise,
    KernelBlur,
    KernelSampler,
    NoiseConfig,
    RainConfig,
    RainStreaks,
)
from restorefw_basic._ops import Imresize


def bicubic_up(scale: int) -> Callable[[Tensor], Tensor]:
    """Bicubic up-sampling (MATLAB-style): the "do nothing" baseline of SR."""
    return partial(Imresize(), scale=scale)


class SRTaskConfig(StrictModel):
    scale: int = Field(2, ge=1, le=8)
    degradation: ComponentField("degradation") | None = None
    crop_border: int | None = Field(None, ge=0, description="default: the scale")
    y_channel: bool = True


class DenoiseTaskConfig(NoiseConfig):
    y_channel: bool = False


class DerainTaskConfig(RainConfig):
    y_channel: bool = True


class DeblurTaskConfig(StrictModel):
    kernel: ComponentField("kernel") = "isotropic_gaussian"
    noise_sigma: float = Field(0.0, ge=0)
    y_channel: bool = False


class CustomTaskConfig(StrictModel):
    degradation: ComponentField("degradation")
    crop_border: int = Field(0, ge=0)
    y_channel: bool = False


def sr_task(scale: int, degradation: Degrade | None, crop_border: int | None, y_channel: bool) -> Task:
    """Super-resolution ×scale (bicubic down-sampling unless another degradation is given)."""
    degradation = degradation or BicubicDown(scale)
    if int(getattr(degradation, "scale", 1)) != scale:
        raise ValueError(f"degradation scale {getattr(degradation, 'scale', 1)} differs from task scale {scale}")
    border = scale if crop_border is None else crop_border
    return Task("sr", degradation, scale, border, y_channel, bicubic_up(scale))


def denoise_task(sigma: float, sigma_range: tuple[float, float] | None, clip: bool, y_channel: bool) -> Task:
    """Gaussian denoising (σ in [0, 255] units; fixed or blind range)."""
    return Task("denoise", GaussianNoise(sigma, sigma_range, clip), 1, 0, y_channel)


def derain_task(y_channel: bool, **rain: Any) -> Task:
    """Rain-streak removal on synthetic rain (Y-channel metrics by default, as in deraining papers)."""
    return Task("derain", RainStreaks(**rain), 1, 0, y_channel)


def deblur_task(kernel: KernelSampler, noise_sigma: float, y_channel: bool) -> Task:
    """Non-blind-style deblurring: blur with a sampled kernel, optional noise."""
    steps: list[Degrade] = [KernelBlur(kernel, 1, "direct")]
    if noise_sigma > 0:
        steps.append(GaussianNoise(noise_sigma, None, False))
    return Task("deblur", Chain(steps), 1, 0, y_channel)


def custom_task(degradation: Degrade, crop_border: int, y_channel: bool) -> Task:
    """Any degradation as a task (its ``scale`` attribute sets the SR factor)."""
    scale = int(getattr(degradation, "scale", 1))
    return Task("custom", degradation, scale, crop_border, y_channel, bicubic_up(scale) if scale > 1 else None)
