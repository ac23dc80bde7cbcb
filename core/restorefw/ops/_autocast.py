"""The dtype autocast would give a matmul or a convolution, for overrides that call kernels it does not see.

Fused kernels reached through ``torch.ops.mkldnn`` (and custom ones) are not autocast-aware:
under ``torch.autocast`` they get inputs in whatever dtype the previous op left, and weights
in the model's. An override that calls them casts to :func:`matmul_dtype` itself, so that
it computes in the precision the user asked for, as the reference's ``F.conv2d`` or
``F.linear`` would under autocast.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["matmul_dtype"]


def matmul_dtype(x: Tensor) -> torch.dtype:
    """The dtype a matmul of ``x`` runs in: autocast's for ``x``'s device type when it is on, else ``x``'s."""
    device = x.device.type
    if x.is_floating_point() and torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return x.dtype
