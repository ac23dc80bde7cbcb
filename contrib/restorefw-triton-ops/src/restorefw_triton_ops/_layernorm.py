"""``layernorm2d`` on CUDA: a Triton forward kernel, the backward through the reference."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from restorefw.nn import layer_norm_channels

__all__ = ["layernorm2d_triton"]

_KERNEL_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
_BLOCK_P = 128


def layernorm2d_triton(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, eps: float = 1e-5, *, center: bool = True
) -> Tensor:
    """:func:`restorefw.nn.layer_norm_channels` with a Triton forward pass (CUDA)."""
    if x.dim() != 4 or x.dtype not in _KERNEL_DTYPES:
        return layer_norm_channels(x, weight, bias, eps, center=center)
    return _LayerNorm2d.apply(x, weight, bias, eps, center)


class _LayerNorm2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None, eps: float, center: bool) -> Tensor:
        ctx.save_for_backward(x, weight, bias)
        ctx.eps, ctx.center = eps, center
        return _launch(x, weight, bias, eps, center)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, weight, bias = ctx.saved_tensors
        # The gradient is recomputed through the reference: exact by construction, and the
        # forward kernel keeps no statistics around for it.
        needs = ctx.needs_input_grad
        x_in = x.detach().requires_grad_(needs[0])
        w_in = weight.detach().requires_grad_(needs[1])
        b_in = bias.detach().requires_grad_(needs[2]) if bias is not None else None
        leaves = [t for t in (x_in, w_in, b_in) if t is not None and t.requires_grad]
        with torch.enable_grad():
            out = layer_norm_channels(x_in, w_in, b_in, ctx.eps, center=ctx.center)
            found = iter(torch.autograd.grad(out, leaves, grad) if leaves else ())
        grads = [next(found) if t is not None and t.requires_grad else None for t in (x_in, w_in, b_in)]
        return (*grads, None, None)


def _pixel_stride(t: Tensor) -> int | None:
    """The stride between consecutive pixels if H and W collapse into one dimension, else None."""
    return t.stride(3) if t.stride(2) == t.shape[3] * t.stride(3) or t.shape[2] == 1 else None


def _launch(x: Tensor, weight: Tensor, bias: Tensor | None, eps: float, center: bool) -> Tensor:
    import triton

    from restorefw_triton_ops._kernel import layernorm2d_forward

    if _pixel_stride(x) is None:  # neither NCHW nor channels-last: one copy makes it NCHW
        x = x.contiguous()
    y = torch.empty_like(x)  # same layout as a dense x
    batch, channels, height, width = x.shape
    pixels = height * width
    weight = weight.contiguous()
    bias_arg = bias.contiguous() if bias is not None else weight  # unread when HAS_BIAS is false
    grid = (triton.cdiv(pixels, _BLOCK_P), batch)
    layernorm2d_forward[grid](
        x, weight, bias_arg, y, channels, pixels,
        x.stride(0), x.stride(1), _pixel_stride(x),
        y.stride(0), y.stride(1), _pixel_stride(y),
        eps,
        CENTER=center, HAS_BIAS=bias is not None,
        BLOCK_C=min(32, triton.next_power_of_2(channels)), BLOCK_P=_BLOCK_P,
    )
    return y
