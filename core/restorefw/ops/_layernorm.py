"""The core's own op: ``layernorm2d``, channel LayerNorm of ``(B, C, H, W)`` maps.

Reference: :func:`layer_norm_channels` (also exported by :mod:`restorefw.nn`). Override ``channels_last``: the
same normalisation done by ``F.layer_norm`` on the channels-last view, one fused
kernel instead of a ``var_mean`` and four broadcast passes.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from restorefw.hookspecs import Register
from restorefw.ops._fusion import needs_grad
from restorefw.ops._spec import OpSample, Override, Reference

__all__ = ["layer_norm_channels", "layer_norm_channels_last", "layernorm2d_samples", "register_core_ops"]


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


def layer_norm_channels_last(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, eps: float = 1e-5, *, center: bool = True
) -> Tensor:
    """:func:`layer_norm_channels` through ``F.layer_norm`` on the NHWC view."""
    nhwc = x.permute(0, 2, 3, 1)
    if center:
        out = F.layer_norm(nhwc, (x.shape[1],), weight, bias, eps)
    elif needs_grad(x, weight, bias):
        # native_layer_norm's statistics are not differentiable: autograd needs the reference.
        return layer_norm_channels(x, weight, bias, eps, center=False)
    else:
        _, _, rstd = torch.native_layer_norm(nhwc, (x.shape[1],), None, None, eps)
        out = nhwc * rstd.to(x.dtype) * weight
        if bias is not None:
            out = out + bias
    out = out.permute(0, 3, 1, 2)
    # Same layout as the reference gives: the channel chunks and convolutions after a norm
    # are much slower on a channels-last tensor that the model did not ask for.
    return out.contiguous() if x.is_contiguous() else out


def layernorm2d_samples(generator: torch.Generator) -> Iterator[OpSample]:
    """Random shapes, offset inputs (a large mean tests the centring), with and without bias."""
    for i, (shape, center, with_bias) in enumerate(
        [((2, 5, 4, 6), True, True), ((1, 8, 7, 3), False, False), ((3, 3, 2, 5), True, False),
         ((1, 16, 3, 3), False, True), ((2, 2, 3, 4), True, True)]
    ):
        x = torch.randn(shape, generator=generator, dtype=torch.float64) * (1 + i) + 2.0 * i
        weight = torch.randn(shape[1], generator=generator, dtype=torch.float64)
        bias = torch.randn(shape[1], generator=generator, dtype=torch.float64) if with_bias else None
        yield OpSample((x, weight, bias), {"eps": 1e-5 if i % 2 else 1e-6, "center": center})


def register_core_ops(register: Register) -> None:
    """The ops of the core's own layers (``restorefw.nn``)."""
    register("layernorm2d", Reference(layer_norm_channels, layernorm2d_samples),
             description="channel LayerNorm of (B, C, H, W) maps; center=False keeps the mean (Restormer BiasFree)")
    register("layernorm2d", Override("channels_last", layer_norm_channels_last, devices=("cpu", "cuda"), priority=10),
             description="F.layer_norm on the NHWC view (one fused kernel)")
