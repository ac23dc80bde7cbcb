"""Random camera trajectories and their rasterisation into blur kernels.

A trajectory is the path the image moves along during the exposure. It is drawn
as a curve of constant speed whose heading performs a random walk: with
``intensity`` 0 the heading never changes (linear motion blur at a random
angle); with ``intensity`` 1 it drifts by about π radians (one standard deviation)
over the exposure, giving curved, shaky paths. The path is scaled to a length
drawn from ``length``, centred, shrunk if needed to fit the kernel, and
rasterised with bilinear weights: a kernel is the time the image spends at each
offset, so it is non-negative and sums to 1.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field, model_validator
from torch import Tensor

from restorefw import StrictModel

__all__ = ["MotionBlurConfig", "MotionKernels", "rasterise", "trajectory"]


class MotionBlurConfig(StrictModel):
    size: int = Field(21, ge=3, description="kernel width and height (odd)")
    length: tuple[float, float] = Field((5.0, 15.0), description="trajectory length range, in pixels")
    intensity: float = Field(0.5, ge=0, le=2, description="heading drift: 0 straight, 1 strongly curved")
    points: int = Field(128, ge=8, le=4096, description="trajectory samples (more: smoother rasterisation)")

    @model_validator(mode="after")
    def _consistent(self) -> MotionBlurConfig:
        if self.size % 2 == 0:
            raise ValueError("size must be odd, so the kernel has a centre pixel")
        low, high = self.length
        if not 0 < low <= high:
            raise ValueError("length must be [low, high] with 0 < low <= high")
        return self


def trajectory(points: int, length: float, intensity: float, generator: torch.Generator) -> Tensor:
    """A random ``(points, 2)`` path (x, y) of total ``length`` pixels, centred on its mean point."""
    angle0 = 2 * math.pi * torch.rand((), generator=generator, dtype=torch.float64)
    # Per-step heading noise scaled so that the drift over the whole path does not depend on `points`.
    spread = intensity * math.pi / math.sqrt(points)
    steps = torch.randn(points - 1, generator=generator, dtype=torch.float64) * spread
    heading = angle0 + torch.cumsum(steps, 0)
    moves = torch.stack([torch.cos(heading), torch.sin(heading)], 1) * (length / (points - 1))
    path = torch.cat([torch.zeros(1, 2, dtype=torch.float64), torch.cumsum(moves, 0)])
    # Centred on the time-averaged position, so blurring does not shift the image on average.
    return path - path.mean(0)


def rasterise(path: Tensor, size: int) -> Tensor:
    """Bilinear splat of equally weighted path points into a ``(size, size)`` kernel summing to 1.

    The kernel centre is the path's origin; a path reaching beyond the kernel is shrunk about it to fit.
    """
    reach = float(path.abs().max())
    if reach > (size - 1) / 2:
        path = path * ((size - 1) / 2 / reach)
    coords = path + (size - 1) / 2
    base = coords.floor().clamp(0, size - 2)
    frac = coords - base
    kernel = torch.zeros(size * size, dtype=torch.float64)
    ix, iy = base[:, 0].long(), base[:, 1].long()
    fx, fy = frac[:, 0], frac[:, 1]
    for dx, dy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        kernel.index_add_(0, (iy + dy) * size + (ix + dx), weight)
    kernel = kernel.reshape(size, size).clamp_min(0)
    return kernel / kernel.sum()


class MotionKernels:
    """Kernel sampler ``sample(generator) -> (size, size)`` float32 kernel (the restorefw kernel contract)."""

    def __init__(self, size: int, length: tuple[float, float], intensity: float, points: int = 128) -> None:
        self.size, self.length, self.intensity, self.points = size, length, intensity, points

    def __call__(self, generator: torch.Generator) -> Tensor:
        low, high = self.length
        length = low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))
        path = trajectory(self.points, length, self.intensity, generator)
        return rasterise(path, self.size).float()
