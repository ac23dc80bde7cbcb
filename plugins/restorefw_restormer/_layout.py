"""Restormer's working layout: channels-last on the CPU, whatever layout the caller passes.

On the CPU every convolution of the model runs in oneDNN's NHWC kernels when its input is
channels-last: the 1x1 convolutions become plain GEMMs without reorders to and from
oneDNN's blocked layout, the depthwise 3x3 ones run about twice as fast, and the ops
(``layernorm2d``, ``restormer.mdta``) have NHWC paths. The model converts its input once
and hands the result back in the caller's layout, so a plain ``model(x)`` on an NCHW
tensor (training, evaluation, third-party code) is as fast as ``restore_image``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["in_caller_layout", "in_working_layout"]


def in_working_layout(x: Tensor) -> Tensor:
    """``x`` channels-last if it is a 4-D CPU tensor (a no-op when it already is), else ``x``."""
    if x.device.type == "cpu" and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def in_caller_layout(out: Tensor, x: Tensor) -> Tensor:
    """``out`` contiguous (NCHW) when the caller's ``x`` was, else as it is.

    The copy is of the model's output only (a few channels), and spares NCHW callers a
    channels-last tensor that ``view`` would reject.
    """
    if x.is_contiguous() and not out.is_contiguous():
        return out.contiguous()
    return out
