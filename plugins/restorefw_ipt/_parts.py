"""IPT's task-specific heads and tails (registered through the head/tail hook).

Chen et al., "Pre-Trained Image Processing Transformer", CVPR 2021, arXiv:2012.00364.
Original repository: https://github.com/huawei-noah/Pretrained-IPT. Clean-room code
keeping the official module layout (``head.N.0``, ``head.N.1.body.0`` ...).

Contract of a head or tail attached to the ``ipt`` model (from any plugin): a head
maps a mean-subtracted ``[0, rgb_range]`` image ``(B, n_colors, P, P)`` to body
features ``(B, n_feats, P, P)``; a tail maps body features to an image
``(B, n_colors, P·s, P·s)`` and says ``s`` in its ``scale`` attribute (1 if absent).
"""

from __future__ import annotations

from pydantic import Field, field_validator
from torch import nn

from restorefw import StrictModel
from restorefw.nn import ResBlock, Upsampler, default_conv

__all__ = ["IPTHead", "IPTHeadConfig", "IPTTail", "IPTTailConfig", "check_scale"]


def check_scale(scale: int) -> int:
    """Validate an SR factor the sub-pixel tail supports (1, 3 or a power of two)."""
    if scale < 1 or (scale & (scale - 1) and scale != 3):
        raise ValueError(f"scale must be 1, 3 or a power of two, got {scale}")
    return scale


class IPTHeadConfig(StrictModel):
    n_colors: int = Field(3, gt=0, description="image channels")
    n_feats: int = Field(64, gt=0, description="feature channels")
    kernel_size: int = Field(5, gt=0, description="kernel of the residual blocks (odd)")
    n_resblocks: int = Field(2, ge=0)

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("kernel_size must be odd")
        return value


class IPTTailConfig(StrictModel):
    scale: int = Field(1, ge=1, description="up-sampling factor: 1, 3 or a power of two")
    n_colors: int = Field(3, gt=0)
    n_feats: int = Field(64, gt=0)

    @field_validator("scale")
    @classmethod
    def _supported(cls, value: int) -> int:
        return check_scale(value)


class IPTHead(nn.Sequential):
    """``conv3x3(n_colors → n_feats)`` followed by ``n_resblocks`` ResBlocks (5x5 kernels by default)."""

    def __init__(self, n_colors: int = 3, n_feats: int = 64, kernel_size: int = 5, n_resblocks: int = 2) -> None:
        super().__init__(default_conv(n_colors, n_feats, 3),
                         *(ResBlock(n_feats, kernel_size) for _ in range(n_resblocks)))
        self.n_colors, self.n_feats = n_colors, n_feats


class IPTTail(nn.Sequential):
    """Sub-pixel ``Upsampler(scale)`` (empty for scale 1) followed by ``conv3x3(n_feats → n_colors)``."""

    def __init__(self, scale: int = 1, n_colors: int = 3, n_feats: int = 64) -> None:
        super().__init__(Upsampler(scale, n_feats), default_conv(n_feats, n_colors, 3))
        self.scale, self.n_colors, self.n_feats = scale, n_colors, n_feats
