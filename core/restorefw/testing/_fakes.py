"""Small, fast, contract-abiding test doubles of every main component kind.

They stand in for real components when a test is about something else: a
strategy plugin can be tested on :class:`FakeModel` and :class:`FakeDegradation`,
a task plugin on :class:`FakeKernel`. :class:`FakePlugin` registers them all
under the name ``"fake"`` (the metric as ``"fake_mae"``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from restorefw._schema import ComponentField, StrictModel
from restorefw._task import Task
from restorefw.hookspecs import Register, hookimpl

__all__ = ["FakeDegradation", "FakeKernel", "FakeLoss", "FakeMetric", "FakeModel", "FakePlugin"]

_LICENSE = "Apache-2.0"


class FakeDegradation:
    """Average-pool by ``scale``, then add uniform noise in ``[-amplitude, amplitude]``, clipped to [0, 1].

    The noise is drawn on the CPU from the generator, so the result does not depend on the device.
    """

    def __init__(self, amplitude: float = 0.05, scale: int = 1) -> None:
        self.amplitude, self.scale = amplitude, scale

    def __call__(self, hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        lq = F.avg_pool2d(hr, self.scale) if self.scale > 1 else hr
        noise = torch.rand(lq.shape, generator=generator, dtype=lq.dtype, device=generator.device)
        return (lq + self.amplitude * (2 * noise.to(lq.device) - 1)).clamp(0, 1), hr


class FakeKernel:
    """Random non-negative ``(size, size)`` kernels normalised to sum 1."""

    def __init__(self, size: int = 5) -> None:
        self.size = size

    def __call__(self, generator: torch.Generator) -> Tensor:
        kernel = torch.rand((self.size, self.size), generator=generator) + 1e-3
        return kernel / kernel.sum()


class FakeModel(nn.Module):
    """Nearest up-sampling by ``scale`` plus a 3×3 convolution residual: the smallest trainable model."""

    value_range = (0.0, 1.0)
    size_multiple = 1

    def __init__(self, channels: int = 3, scale: int = 1) -> None:
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        if self.scale > 1:
            x = F.interpolate(x, scale_factor=self.scale, mode="nearest")
        return x + self.conv(x)


class FakeMetric:
    """Mean absolute error per image, ``(B,)``; lower is better."""

    higher_is_better = False

    def __init__(self, name: str = "fake_mae") -> None:
        self.name = name

    def __call__(self, pred: Tensor, target: Tensor) -> Tensor:
        return (pred - target).abs().flatten(1).mean(1)


class FakeLoss(nn.Module):
    """Mean absolute error (a scalar)."""

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return (pred - target).abs().mean()


class FakeDegradationConfig(StrictModel):
    amplitude: float = Field(0.05, ge=0, le=1)
    scale: int = Field(1, ge=1, le=8)


class FakeKernelConfig(StrictModel):
    size: int = Field(5, gt=0)


class FakeModelConfig(StrictModel):
    channels: int = Field(3, gt=0)
    scale: int = Field(1, ge=1, le=8)


class FakeTaskConfig(StrictModel):
    degradation: ComponentField("degradation") = "fake"


def _fake_task(degradation: FakeDegradation) -> Task:
    """Undo the fake degradation (or any other one)."""
    scale = int(getattr(degradation, "scale", 1))
    return Task("fake", degradation, scale=scale, crop_border=0)


class FakePlugin:
    """A plugin registering every fake as ``"fake"`` (the metric as ``"fake_mae"``).

    Example:
        ``registry = registry_with(FakePlugin(), my_plugin)``
    """

    name = "fake"

    @hookimpl
    def register_degradations(self, register: Register) -> None:
        register("fake", FakeDegradation, schema=FakeDegradationConfig, license=_LICENSE,
                 description="test double: pooling + uniform noise")

    @hookimpl
    def register_kernels(self, register: Register) -> None:
        register("fake", FakeKernel, schema=FakeKernelConfig, license=_LICENSE,
                 description="test double: random normalised kernels")

    @hookimpl
    def register_models(self, register: Register) -> None:
        register("fake", FakeModel, schema=FakeModelConfig, license=_LICENSE,
                 description="test double: up-sampling + one convolution")

    @hookimpl
    def register_metrics(self, register: Register) -> None:
        register("fake_mae", lambda: FakeMetric(), license=_LICENSE,
                 description="test double: per-image MAE (lower is better)")

    @hookimpl
    def register_losses(self, register: Register) -> None:
        register("fake", FakeLoss, license=_LICENSE, description="test double: L1")

    @hookimpl
    def register_tasks(self, register: Register) -> None:
        register("fake", _fake_task, schema=FakeTaskConfig, license=_LICENSE, description="test double task")
