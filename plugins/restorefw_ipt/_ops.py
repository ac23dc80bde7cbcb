"""IPT's op: ``ipt.attention``, the scaled dot-product core of its multi-head attention.

Chen et al., "Pre-Trained Image Processing Transformer", CVPR 2021, arXiv:2012.00364.
Original repository: https://github.com/huawei-noah/Pretrained-IPT. Clean-room code.

``ipt.attention(q, k, v, dropout_p)`` takes per-head queries ``(B, heads, Nq, d)`` and
keys and values ``(B, heads, Nk, d)`` and returns ``(B, heads, Nq, d)``; the
projections stay in :class:`restorefw_ipt._attention.MultiheadAttention`.

``ipt.mlp(x, w1, b1, w2, b2, residual)`` is the two-layer ReLU MLP of the transformer
layers and of ``mlp_head`` with its residual: ``residual + linear2(relu(linear1(x)))``.
Its ``onednn`` override runs the ReLU and the residual as post-ops of oneDNN's GEMMs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from restorefw import Register
from restorefw.ops import OpSample, Override, Reference, matmul_dtype, needs_grad, onednn_op_available

__all__ = [
    "attention", "attention_samples", "attention_sdpa", "mlp", "mlp_onednn", "mlp_samples", "register_ipt_ops",
]


def attention(q: Tensor, k: Tensor, v: Tensor, dropout_p: float = 0.0) -> Tensor:
    """Scaled dot-product attention: ``softmax(q kᵀ / √d) v``, with dropout on the weights when ``dropout_p > 0``."""
    weights = ((q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])).softmax(dim=-1)
    if dropout_p > 0:
        weights = F.dropout(weights, dropout_p)
    return weights @ v


def attention_sdpa(q: Tensor, k: Tensor, v: Tensor, dropout_p: float = 0.0) -> Tensor:
    """:func:`attention` as torch's fused ``scaled_dot_product_attention`` (flash or memory-efficient kernels)."""
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)


def mlp(x: Tensor, w1: Tensor, b1: Tensor | None, w2: Tensor, b2: Tensor | None,
        residual: Tensor | None = None) -> Tensor:
    """``residual + linear2(relu(linear1(x)))`` over the last axis; no residual when ``None``."""
    out = F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)
    return out if residual is None else residual + out


def onednn_linear_available() -> bool:
    """Whether this torch has oneDNN's GEMMs with fused post-ops (``mkldnn::_linear_pointwise``)."""
    return onednn_op_available("_linear_pointwise")


def mlp_onednn(x: Tensor, w1: Tensor, b1: Tensor | None, w2: Tensor, b2: Tensor | None,
               residual: Tensor | None = None) -> Tensor:
    """:func:`mlp` with ReLU and residual fused into oneDNN's GEMMs, without autograd.

    oneDNN's fused GEMMs have no backward and are not autocast-aware: tokens and weights
    are cast to the dtype autocast would compute in (:func:`restorefw.ops.matmul_dtype`),
    and a residual of another dtype is added after the GEMM, as autocast's promotion would.
    Calls with autograd, on other devices or dtypes take :func:`mlp`.
    """
    dtype = matmul_dtype(x)
    cpu_float = x.device.type == "cpu" and dtype in (torch.float32, torch.bfloat16)
    if needs_grad(x, w1, b1, w2, b2, residual) or not cpu_float:
        return mlp(x, w1, b1, w2, b2, residual)
    x = x.to(dtype).contiguous()
    w1, b1, w2, b2 = (None if t is None else t.to(dtype) for t in (w1, b1, w2, b2))
    linear = torch.ops.mkldnn._linear_pointwise
    hidden = linear(x, w1, b1, "relu", [], "")
    if residual is None or residual.dtype != dtype:
        out = linear(hidden, w2, b2, "none", [], "")
        return out if residual is None else residual + out
    return linear.binary(hidden, residual.contiguous(), w2, b2, "add")


def mlp_samples(generator: torch.Generator) -> Iterator[OpSample]:
    """Token batches of a few widths, with and without biases and residuals."""
    for i, (shape, hidden) in enumerate([((2, 5, 6), 12), ((1, 7, 4), 3), ((3, 8), 16)]):
        g = {"generator": generator, "dtype": torch.float64}
        dim = shape[-1]
        x = torch.randn(shape, **g)
        w1, w2 = torch.randn((hidden, dim), **g) / dim**0.5, torch.randn((dim, hidden), **g) / hidden**0.5
        b1, b2 = (torch.randn(n, **g) if i != 1 else None for n in (hidden, dim))
        yield OpSample((x, w1, b1, w2, b2, torch.randn(shape, **g) if i != 2 else None))


def attention_samples(generator: torch.Generator) -> Iterator[OpSample]:
    """Self-attention (equal token counts) and cross-attention shapes, one to three heads, no dropout."""
    # (batch, heads, query tokens, key tokens, head dim); dropout is random, so the conformance
    # check only sees dropout_p = 0.
    for batch, heads, n_q, n_k, dim in [(2, 2, 5, 5, 4), (1, 3, 16, 16, 8), (1, 1, 6, 9, 12)]:
        q, k, v = (torch.randn((batch, heads, n, dim), generator=generator, dtype=torch.float64)
                   for n in (n_q, n_k, n_k))
        yield OpSample((q, k, v, 0.0))


def register_ipt_ops(register: Register) -> None:
    """Register ``ipt.attention`` and ``ipt.mlp``: references and overrides."""
    register("ipt.attention", Reference(attention, attention_samples),
             description="scaled dot-product attention per head: softmax(q k^T / sqrt(d)) v, dropout on the weights")
    register("ipt.attention", Override("sdpa", attention_sdpa, devices=("cpu", "cuda"), priority=10),
             description="torch.nn.functional.scaled_dot_product_attention (fused kernels)")
    register("ipt.mlp", Reference(mlp, mlp_samples),
             description="the layers' ReLU MLP with its residual: residual + linear2(relu(linear1(x)))")
    register("ipt.mlp", Override("onednn", mlp_onednn, devices=("cpu",), dtypes=(torch.float32, torch.bfloat16),
                                 priority=10, available=onednn_linear_available,
                                 requires="torch built with oneDNN (mkldnn)"),
             description="without autograd: ReLU and residual as post-ops of oneDNN's GEMMs")
