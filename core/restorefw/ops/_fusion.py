"""What overrides that call fused kernels outside autograd and autocast need to know.

Fused kernels reached through ``torch.ops.mkldnn`` (and custom ones) have no backward and
are not autocast-aware: under ``torch.autocast`` they get inputs in whatever dtype the
previous op left, and weights in the model's. An override that calls them takes the
reference path when :func:`needs_grad`, checks that torch has the kernel
(:func:`onednn_op_available`), and casts to :func:`matmul_dtype` itself, so that it computes
in the precision the user asked for, as the reference's ``F.conv2d`` or ``F.linear`` would
under autocast.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["matmul_dtype", "needs_grad", "onednn_op_available"]


def matmul_dtype(x: Tensor) -> torch.dtype:
    """The dtype a matmul of ``x`` runs in: autocast's for ``x``'s device type when it is on, else ``x``'s."""
    device = x.device.type
    if x.is_floating_point() and torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return x.dtype


def needs_grad(*tensors: Tensor | None) -> bool:
    """Whether autograd records an op on ``tensors`` (``None`` entries are skipped)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def onednn_op_available(name: str) -> bool:
    """Whether this torch has oneDNN with the fused kernel ``torch.ops.mkldnn.<name>``."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, name)
