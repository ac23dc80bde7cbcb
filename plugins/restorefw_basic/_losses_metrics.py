"""Losses and metrics of the basic plugin."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from restorefw import StrictModel
from restorefw_basic._metrics import psnr, ssim

__all__ = ["CharbonnierLoss", "Metric", "MetricConfig", "build_metric"]


class CharbonnierLoss(nn.Module):
    """Charbonnier (smooth L1): mean of sqrt((x - y)² + ε²)."""

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return torch.sqrt((pred - target) ** 2 + self.eps**2).mean()


class CharbonnierConfig(StrictModel):
    eps: float = Field(1e-3, gt=0)


class WeightConfig(StrictModel):
    weight: float = Field(1.0, gt=0)


class _Weighted(nn.Module):
    def __init__(self, loss: nn.Module, weight: float) -> None:
        super().__init__()
        self.loss, self.weight = loss, weight

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.weight * self.loss(pred, target)


def l1_loss(weight: float) -> nn.Module:
    """Mean absolute error."""
    return _Weighted(nn.L1Loss(), weight)


def mse_loss(weight: float) -> nn.Module:
    """Mean squared error (L2)."""
    return _Weighted(nn.MSELoss(), weight)


def charbonnier_loss(eps: float) -> nn.Module:
    """Charbonnier loss."""
    return CharbonnierLoss(eps)


class MetricConfig(StrictModel):
    crop_border: int = Field(0, ge=0)
    y_channel: bool = False


class Metric:
    """A per-image metric: ``metric(pred, target) -> (B,)`` float64 tensor."""

    higher_is_better = True

    def __init__(self, name: str, fn: object, crop_border: int, y_channel: bool) -> None:
        self.name, self.fn = name, fn
        self.crop_border, self.y_channel = crop_border, y_channel

    def __call__(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.fn(pred, target, crop_border=self.crop_border, y_channel=self.y_channel)  # type: ignore[operator]

    def __repr__(self) -> str:
        return f"Metric({self.name}, crop_border={self.crop_border}, y_channel={self.y_channel})"


def build_metric(name: str) -> object:
    """Factory for a BasicSR-convention metric (``psnr`` or ``ssim``)."""
    fn = {"psnr": psnr, "ssim": ssim}[name]

    def factory(crop_border: int, y_channel: bool) -> Metric:
        return Metric(name, fn, crop_border, y_channel)

    factory.__doc__ = f"{name.upper()} on [0,255], BasicSR conventions (crop_border, BT.601 Y channel)"
    return factory
