"""A small residual CNN baseline (EDSR-style blocks without batch norm).

Residual blocks follow Lim et al., "Enhanced Deep Residual Networks for Single
Image Super-Resolution" (CVPRW 2017, https://arxiv.org/abs/1707.02921): conv →
ReLU → conv with a scaled identity skip, no normalisation. The network predicts
a residual over the (bilinearly up-sampled, for SR) input.
"""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from restorefw import StrictModel
from restorefw.models import ModelInfo

__all__ = ["ResCNN", "ResCNNConfig", "build_rescnn"]


class ResBlock(nn.Module):
    """conv3×3 → ReLU → conv3×3, added to the input with ``res_scale``."""

    def __init__(self, channels: int, res_scale: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        self.res_scale = res_scale

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x) * self.res_scale


class ResCNN(nn.Module):
    """Head conv → residual blocks → (pixel-shuffle up-sampler) → tail conv, plus global residual."""

    def __init__(self, in_channels: int, channels: int, blocks: int, scale: int, res_scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.head = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.body = nn.Sequential(*(ResBlock(channels, res_scale) for _ in range(blocks)))
        self.up = (
            nn.Sequential(nn.Conv2d(channels, channels * scale**2, 3, padding=1), nn.PixelShuffle(scale))
            if scale > 1
            else nn.Identity()
        )
        self.tail = nn.Conv2d(channels, in_channels, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    @property
    def model_info(self) -> ModelInfo:
        """Any input size; ``scale`` times larger output with the input's channels."""
        return ModelInfo(scale=self.scale, in_channels=self.head.in_channels, out_channels=self.tail.out_channels)

    def forward(self, x: Tensor) -> Tensor:
        feat = self.head(x)
        feat = feat + self.body(feat)
        residual = self.tail(self.up(feat))
        if self.scale > 1:
            x = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return x + residual


class ResCNNConfig(StrictModel):
    in_channels: int = Field(3, gt=0)
    channels: int = Field(32, gt=0)
    blocks: int = Field(4, ge=0)
    scale: int = Field(1, ge=1, le=8)
    res_scale: float = Field(1.0, gt=0)


def build_rescnn(in_channels: int, channels: int, blocks: int, scale: int, res_scale: float) -> ResCNN:
    """Small residual CNN; the tail starts at zero so training starts from the identity."""
    return ResCNN(in_channels, channels, blocks, scale, res_scale)
