"""IPT's multi-head attention: the parameters of ``nn.MultiheadAttention``, the core through an op.

Chen et al., "Pre-Trained Image Processing Transformer", CVPR 2021, arXiv:2012.00364.
Original repository: https://github.com/huawei-noah/Pretrained-IPT.

Licence note: clean-room code written from the paper and from notes on the published
architecture; no official code is used. The official layers are
``nn.MultiheadAttention(dim, heads, bias=False)``; this module keeps their parameter
names (``in_proj_weight``, ``out_proj.weight``), shapes and initialisation, so official
state dicts load unchanged, and calls the ``ipt.attention`` op for the scaled
dot-product part.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restorefw.ops import OpsModule

__all__ = ["MultiheadAttention"]


class MultiheadAttention(OpsModule):
    """Multi-head attention without biases, batch first: ``out_proj(attention(q W_q, k W_k, v W_v))``.

    Args:
        dim: token dimension ``D``.
        heads: attention heads; ``D`` must be divisible by them.
        dropout: dropout rate on the attention weights, in training mode only.

    Attributes:
        in_proj_weight: the packed ``(3D, D)`` query, key and value projections.
        out_proj: the ``D → D`` output projection.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"token dim {dim} is not divisible by {heads} heads")
        self.heads, self.dropout = heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        # Random draws in the order of torch's MultiheadAttention followed by the official
        # re-initialisation of the packed projection like an nn.Linear: out_proj (nn.Linear's
        # own init), Xavier, then Kaiming. The Xavier draw is overwritten; it keeps seeded
        # runs identical to models built on torch's MultiheadAttention.
        self.out_proj = nn.Linear(dim, dim, bias=False)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.kaiming_uniform_(self.in_proj_weight, a=math.sqrt(5))
        self.use_op("_attention", "ipt.attention")

    def _heads(self, x: Tensor) -> Tensor:
        """View projected ``(B, N, D)`` tokens as ``(B, heads, N, D / heads)``."""
        b, n, _ = x.shape
        return x.view(b, n, self.heads, -1).transpose(1, 2)

    def _projections(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``query W_q``, ``key W_k`` and ``value W_v``, one GEMM for the inputs that are the same tensor.

        IPT's layers pass one tensor as query and key (self-attention), or as key and value
        (cross-attention to the encoder's memory): a single wider GEMM reads it once.
        """
        weight = self.in_proj_weight
        dim = weight.shape[1]
        if query is key and key is value:
            q, k, v = F.linear(query, weight).chunk(3, dim=-1)
        elif query is key:
            (q, k), v = F.linear(query, weight[: 2 * dim]).chunk(2, dim=-1), F.linear(value, weight[2 * dim :])
        elif key is value:
            q, (k, v) = F.linear(query, weight[:dim]), F.linear(key, weight[dim:]).chunk(2, dim=-1)
        else:
            q, k, v = (F.linear(x, w) for x, w in zip((query, key, value), weight.chunk(3), strict=True))
        return q, k, v

    def forward(self, query: Tensor, key: Tensor, value: Tensor) -> Tensor:
        """Attend from ``query`` ``(B, Nq, D)`` to ``key``/``value`` ``(B, Nk, D)``; returns ``(B, Nq, D)``."""
        q, k, v = (self._heads(t) for t in self._projections(query, key, value))
        out = self._attention(q, k, v, self.dropout if self.training else 0.0)
        b, _, n, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, -1))
