"""The Triton kernel. Imports Triton: import this module only once Triton is known usable."""

from __future__ import annotations

import triton
import triton.language as tl

__all__ = ["layernorm2d_forward"]


@triton.jit
def layernorm2d_forward(
    x_ptr, w_ptr, b_ptr, y_ptr,
    channels, pixels,
    x_stride_b, x_stride_c, x_stride_p,
    y_stride_b, y_stride_c, y_stride_p,
    eps,
    CENTER: tl.constexpr, HAS_BIAS: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_P: tl.constexpr,
):
    """Normalise ``BLOCK_P`` pixels of one image over their channels (float32 statistics)."""
    offs_p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
    in_p = offs_p < pixels
    batch = tl.program_id(1).to(tl.int64)
    x_base = x_ptr + batch * x_stride_b + offs_p[None, :] * x_stride_p
    y_base = y_ptr + batch * y_stride_b + offs_p[None, :] * y_stride_p

    total = tl.zeros([BLOCK_P], dtype=tl.float32)
    for c0 in range(0, channels, BLOCK_C):
        offs_c = c0 + tl.arange(0, BLOCK_C)
        mask = (offs_c[:, None] < channels) & in_p[None, :]
        x = tl.load(x_base + offs_c[:, None] * x_stride_c, mask=mask, other=0.0).to(tl.float32)
        total += tl.sum(x, axis=0)
    mean = total / channels

    # A second pass over the channels: the centred sum of squares is exact where E[x²] - E[x]² cancels.
    squares = tl.zeros([BLOCK_P], dtype=tl.float32)
    for c0 in range(0, channels, BLOCK_C):
        offs_c = c0 + tl.arange(0, BLOCK_C)
        mask = (offs_c[:, None] < channels) & in_p[None, :]
        x = tl.load(x_base + offs_c[:, None] * x_stride_c, mask=mask, other=0.0).to(tl.float32)
        centred = tl.where(mask, x - mean[None, :], 0.0)
        squares += tl.sum(centred * centred, axis=0)
    rstd = 1.0 / tl.sqrt(squares / channels + eps)

    for c0 in range(0, channels, BLOCK_C):
        offs_c = c0 + tl.arange(0, BLOCK_C)
        in_c = offs_c < channels
        mask = in_c[:, None] & in_p[None, :]
        x = tl.load(x_base + offs_c[:, None] * x_stride_c, mask=mask, other=0.0).to(tl.float32)
        if CENTER:
            x = x - mean[None, :]
        weight = tl.load(w_ptr + offs_c, mask=in_c, other=0.0).to(tl.float32)
        y = x * rstd[None, :] * weight[:, None]
        if HAS_BIAS:
            bias = tl.load(b_ptr + offs_c, mask=in_c, other=0.0).to(tl.float32)
            y = y + bias[:, None]
        tl.store(y_base + offs_c[:, None] * y_stride_c, y.to(y_ptr.dtype.element_ty), mask=mask)
