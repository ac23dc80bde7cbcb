"""Degradation and kernel objects of the basic plugin (configs + callables); the tasks are in ``_tasks``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from pydantic import Field, model_validator
from torch import Tensor

from restorefw import ComponentField, StrictModel
from restorefw_basic._degrade import add_gaussian_noise, blur, rain_streaks, sample_sigma, subsample
from restorefw_basic._kernels import (
    anisotropic_gaussian_kernel,
    isotropic_gaussian_kernel,
    load_kernel,
    sample_anisotropic_kernel,
    sample_isotropic_kernel,
)
from restorefw_basic._ops import Imresize

Degrade = Callable[[Tensor, torch.Generator], tuple[Tensor, Tensor]]


class KernelSampler:
    """Callable ``sample(generator) -> (size, size) kernel`` with a ``size`` attribute."""

    def __init__(self, size: int, draw: Callable[[torch.Generator], Tensor]) -> None:
        self.size = size
        self._draw = draw

    def __call__(self, generator: torch.Generator) -> Tensor:
        return self._draw(generator)


class IsotropicConfig(StrictModel):
    size: int = Field(21, gt=0)
    variance_min: float = Field(0.2, gt=0)
    variance_max: float = Field(4.0, gt=0)


class AnisotropicConfig(StrictModel):
    size: int = Field(15, gt=0)
    scale: int = Field(2, gt=0)
    lambda_min: float = Field(1.0, gt=0)
    lambda_max: float | None = Field(None, gt=0)


class FixedGaussianConfig(StrictModel):
    size: int = Field(15, gt=0)
    variance: float = Field(2.0, gt=0)
    lambda2: float | None = Field(None, gt=0, description="second variance (anisotropic); None = isotropic")
    theta: float = 0.0


class KernelFileConfig(StrictModel):
    path: str


def isotropic_kernels(size: int, variance_min: float, variance_max: float) -> KernelSampler:
    """Isotropic Gaussian kernels with variance ~ U[variance_min, variance_max]."""
    return KernelSampler(size, lambda g: sample_isotropic_kernel(size, g, variance_min, variance_max))


def anisotropic_kernels(size: int, scale: int, lambda_min: float, lambda_max: float | None) -> KernelSampler:
    """MZSR kernel family: θ~U[0,π), λ1~U[λmin, 2.5·s], λ2~U[λmin, λ1] (variances)."""
    return KernelSampler(size, lambda g: sample_anisotropic_kernel(size, scale, g, lambda_min, lambda_max))


def fixed_gaussian(size: int, variance: float, lambda2: float | None, theta: float) -> KernelSampler:
    """One fixed Gaussian kernel, e.g. MZSR's test kernel g^d_2.0 (variance 2.0)."""
    if lambda2 is None:
        kernel = isotropic_gaussian_kernel(size, variance)
    else:
        kernel = anisotropic_gaussian_kernel(size, variance, lambda2, theta)
    return KernelSampler(size, lambda g: kernel)


def kernel_file(path: str) -> KernelSampler:
    """A kernel read from a .npy or .mat file (normalised to sum 1)."""
    kernel = load_kernel(path)
    return KernelSampler(kernel.shape[-1], lambda g: kernel)


def _per_image_kernels(sampler: KernelSampler, batch: int, generator: torch.Generator, like: Tensor) -> Tensor:
    return torch.stack([sampler(generator) for _ in range(batch)]).to(like.device, like.dtype)


class BicubicDown:
    """MATLAB-style bicubic down-sampling by an integer ``scale``."""

    def __init__(self, scale: int) -> None:
        self.scale = scale
        self._imresize = Imresize()

    def __call__(self, hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return self._imresize(hr, scale=1 / self.scale), hr


class GaussianNoise:
    """Additive white Gaussian noise, σ in the [0, 255] convention (fixed or per-image range)."""

    scale = 1

    def __init__(self, sigma: float, sigma_range: tuple[float, float] | None, clip: bool) -> None:
        self.sigma, self.sigma_range, self.clip = sigma, sigma_range, clip

    def __call__(self, hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        sigma: float | Tensor = self.sigma
        if self.sigma_range is not None:
            sigma = sample_sigma(hr.shape[0], *self.sigma_range, generator)
        return add_gaussian_noise(hr, sigma, generator, clip=self.clip), hr


class KernelBlur:
    """Blur each image with a kernel drawn from a kernel family, then down-sample."""

    def __init__(self, kernel: KernelSampler, scale: int, downsample: str) -> None:
        self.kernel, self.scale, self.downsample = kernel, scale, downsample
        self._imresize = Imresize()

    def __call__(self, hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        lq = blur(hr, _per_image_kernels(self.kernel, hr.shape[0], generator, hr))
        if self.scale > 1:
            direct = self.downsample == "direct"
            lq = subsample(lq, self.scale) if direct else self._imresize(lq, scale=1 / self.scale)
        return lq, hr


class RainStreaks:
    """Synthetic rain streaks (screen-blended, clipped to [0, 1])."""

    scale = 1

    def __init__(self, **params: Any) -> None:
        self.params = params

    def __call__(self, hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return rain_streaks(hr, generator, **self.params), hr


class Chain:
    """Apply degradations in order; the target is the first one's."""

    def __init__(self, steps: Sequence[Degrade]) -> None:
        self.steps = list(steps)
        self.scale = 1
        for step in self.steps:
            self.scale *= int(getattr(step, "scale", 1))

    def __call__(self, hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        lq, target = self.steps[0](hr, generator)
        for step in self.steps[1:]:
            lq, _ = step(lq, generator)
        return lq, target


class ScaleConfig(StrictModel):
    scale: int = Field(2, ge=1, le=8)


class NoiseConfig(StrictModel):
    sigma: float = Field(25.0, ge=0)
    sigma_range: tuple[float, float] | None = None
    clip: bool = False

    @model_validator(mode="after")
    def _range_ordered(self) -> NoiseConfig:
        if self.sigma_range is not None and not 0 <= self.sigma_range[0] <= self.sigma_range[1]:
            raise ValueError("sigma_range must be [low, high] with 0 <= low <= high")
        return self


class BlurConfig(StrictModel):
    kernel: ComponentField("kernel") = "isotropic_gaussian"
    scale: int = Field(1, ge=1, le=8)
    downsample: str = Field("direct", pattern="^(direct|bicubic)$")


class RainConfig(StrictModel):
    density: float = Field(0.02, gt=0, le=1)
    length: tuple[int, int] = (10, 25)
    angle: tuple[float, float] = (-20.0, 20.0)
    width: int = Field(1, ge=1)
    intensity: tuple[float, float] = (0.6, 1.0)


class ChainConfig(StrictModel):
    steps: list[ComponentField("degradation")] = Field(min_length=1)
