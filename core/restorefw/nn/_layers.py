"""Layers shared by the model plugins.

Plugins keep their official attribute names (so official checkpoints load with
``strict=True``) in thin wrappers of their own, and put the math they share here
so it is written, tested and optimised once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from restorefw.ops import OpsModule, layer_norm_channels

__all__ = ["LayerNorm2d", "MeanShift", "ResBlock", "Upsampler", "default_conv", "layer_norm_channels"]


class LayerNorm2d(OpsModule):
    """Channel LayerNorm for ``(B, C, H, W)`` feature maps (mean-centred).

    Computed by the op ``layernorm2d`` (reference: :func:`layer_norm_channels`), resolved
    when the module is built and again when it moves.

    Args:
        dim: number of channels ``C``.
        bias: learn a per-channel shift.
        eps: added to the variance before the square root.
    """

    _layer_norm: Callable[..., Tensor]

    def __init__(self, dim: int, bias: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None
        self.use_op("_layer_norm", "layernorm2d")

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``x`` over its channels."""
        return self._layer_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, bias={self.bias is not None}, eps={self.eps}"


def default_conv(in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> nn.Conv2d:
    """A stride-1 convolution padded to keep the spatial size (odd ``kernel_size``)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)


class MeanShift(nn.Conv2d):
    """Frozen 1x1 convolution that subtracts (``sign=-1``) or adds (``sign=1``) the data-set mean.

    The EDSR family of models (EDSR, RCAN, IPT) works on ``[0, rgb_range]`` images
    with the mean removed; the weights are part of their state dicts.

    Args:
        rgb_range: value range of the images the model sees (255 in the official models).
        rgb_mean: per-channel mean as a fraction of ``rgb_range``.
        rgb_std: per-channel standard deviation, same units.
        sign: -1 to subtract the mean, 1 to add it back.
    """

    def __init__(
        self,
        rgb_range: float,
        rgb_mean: Sequence[float] = (0.4488, 0.4371, 0.4040),
        rgb_std: Sequence[float] = (1.0, 1.0, 1.0),
        sign: int = -1,
    ) -> None:
        channels = len(rgb_mean)
        super().__init__(channels, channels, kernel_size=1)
        std = torch.tensor(rgb_std, dtype=torch.float32)
        mean = torch.tensor(rgb_mean, dtype=torch.float32)
        with torch.no_grad():
            self.weight.copy_(torch.eye(channels).view(channels, channels, 1, 1) / std.view(channels, 1, 1, 1))
            self.bias.copy_(sign * rgb_range * mean / std)
        for param in self.parameters():
            param.requires_grad_(False)


class ResBlock(nn.Module):
    """Residual block without normalisation: ``x + res_scale * conv(act(conv(x)))``.

    The layers live in ``body`` (conv at index 0, activation at 1, conv at 2), the
    layout of EDSR-style checkpoints.

    Args:
        n_feats: channels in and out.
        kernel_size: odd kernel size of both convolutions.
        bias: convolutions with bias.
        res_scale: factor of the residual branch.
        act: the activation module (default ReLU).
    """

    def __init__(
        self, n_feats: int, kernel_size: int, bias: bool = True, res_scale: float = 1.0, act: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            default_conv(n_feats, n_feats, kernel_size, bias),
            act if act is not None else nn.ReLU(inplace=True),
            default_conv(n_feats, n_feats, kernel_size, bias),
        )
        self.res_scale = res_scale

    def forward(self, x: Tensor) -> Tensor:
        """Add the residual branch to ``x``."""
        return x + self.body(x) * self.res_scale


class Upsampler(nn.Sequential):
    """Sub-pixel up-sampling by ``scale``: (conv to ``r²·C``, PixelShuffle(r)) per factor.

    Powers of two use ``log2(scale)`` ×2 steps, 3 one ×3 step; scale 1 is empty
    (no parameters), which lets a scale-1 task share the multi-scale code path.

    Args:
        scale: up-sampling factor (1, 3 or a power of two).
        n_feats: channels in and out.
        bias: convolutions with bias.

    Raises:
        ValueError: any other scale.
    """

    def __init__(self, scale: int, n_feats: int, bias: bool = True) -> None:
        layers: list[nn.Module] = []
        if scale >= 1 and scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [default_conv(n_feats, 4 * n_feats, 3, bias), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [default_conv(n_feats, 9 * n_feats, 3, bias), nn.PixelShuffle(3)]
        else:
            raise ValueError(f"Upsampler supports scale 1, 3 or a power of two, got {scale}")
        super().__init__(*layers)
        self.scale = scale
