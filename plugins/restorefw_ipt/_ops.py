"""IPT's op: ``ipt.attention``, the scaled dot-product core of its multi-head attention.

Chen et al., "Pre-Trained Image Processing Transformer", CVPR 2021, arXiv:2012.00364.
Original repository: https://github.com/huawei-noah/Pretrained-IPT. Clean-room code.

``ipt.attention(q, k, v, dropout_p)`` takes per-head queries ``(B, heads, Nq, d)`` and
keys and values ``(B, heads, Nk, d)`` and returns ``(B, heads, Nq, d)``; the
projections stay in :class:`restorefw_ipt._attention.MultiheadAttention`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from restorefw import Register
from restorefw.ops import OpSample, Override, Reference

__all__ = ["attention", "attention_samples", "attention_sdpa", "register_ipt_ops"]


def attention(q: Tensor, k: Tensor, v: Tensor, dropout_p: float = 0.0) -> Tensor:
    """Scaled dot-product attention: ``softmax(q kᵀ / √d) v``, with dropout on the weights when ``dropout_p > 0``."""
    weights = ((q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])).softmax(dim=-1)
    if dropout_p > 0:
        weights = F.dropout(weights, dropout_p)
    return weights @ v


def attention_sdpa(q: Tensor, k: Tensor, v: Tensor, dropout_p: float = 0.0) -> Tensor:
    """:func:`attention` as torch's fused ``scaled_dot_product_attention`` (flash or memory-efficient kernels)."""
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)


def attention_samples(generator: torch.Generator) -> Iterator[OpSample]:
    """Self-attention (equal token counts) and cross-attention shapes, one to three heads, no dropout."""
    # (batch, heads, query tokens, key tokens, head dim); dropout is random, so the conformance
    # check only sees dropout_p = 0.
    for batch, heads, n_q, n_k, dim in [(2, 2, 5, 5, 4), (1, 3, 16, 16, 8), (1, 1, 6, 9, 12)]:
        q, k, v = (torch.randn((batch, heads, n, dim), generator=generator, dtype=torch.float64)
                   for n in (n_q, n_k, n_k))
        yield OpSample((q, k, v, 0.0))


def register_ipt_ops(register: Register) -> None:
    """Register the reference and the ``sdpa`` override of ``ipt.attention``."""
    register("ipt.attention", Reference(attention, attention_samples),
             description="scaled dot-product attention per head: softmax(q k^T / sqrt(d)) v, dropout on the weights")
    register("ipt.attention", Override("sdpa", attention_sdpa, devices=("cpu", "cuda"), priority=10),
             description="torch.nn.functional.scaled_dot_product_attention (fused kernels)")
