"""Layers shared by the model plugins.

Plugins keep their official attribute names (so official checkpoints load with
``strict=True``) in thin wrappers of their own, and put the math they share here
so it is written, tested and optimised once.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["LayerNorm2d", "layer_norm_channels"]


def layer_norm_channels(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    eps: float = 1e-5,
    *,
    center: bool = True,
) -> Tensor:
    """Layer-normalise a ``(B, C, H, W)`` tensor over its channels, pixel by pixel.

    Statistics are taken over dim 1 directly, so channels-first input needs no
    permute to NHWC and back. The variance is the biased one (``correction=0``).

    Args:
        x: input of shape ``(B, C, H, W)``.
        weight: per-channel scale of shape ``(C,)``.
        bias: per-channel shift of shape ``(C,)``, or ``None`` for none.
        eps: added to the variance before the square root.
        center: subtract the mean in the numerator. ``False`` gives the
            "bias-free" normalisation of Restormer's denoisers: ``x / sqrt(var + eps)``
            where ``var`` is still the centred variance.

    Returns:
        The normalised tensor, same shape and dtype as ``x``.
    """
    var, mean = torch.var_mean(x, dim=1, keepdim=True, correction=0)
    numerator = x - mean if center else x
    out = numerator / torch.sqrt(var + eps) * weight[:, None, None]
    if bias is not None:
        out = out + bias[:, None, None]
    return out


class LayerNorm2d(nn.Module):
    """Channel LayerNorm for ``(B, C, H, W)`` feature maps (mean-centred).

    Args:
        dim: number of channels ``C``.
        bias: learn a per-channel shift.
        eps: added to the variance before the square root.
    """

    def __init__(self, dim: int, bias: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``x`` over its channels."""
        return layer_norm_channels(x, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, bias={self.bias is not None}, eps={self.eps}"
