"""The shared transformer body of IPT: a DETR-style encoder-decoder over 3x3 feature patches.

Chen et al., "Pre-Trained Image Processing Transformer", CVPR 2021, arXiv:2012.00364.
Original repository: https://github.com/huawei-noah/Pretrained-IPT.

Licence note: clean-room code written from the paper and from notes on the published
architecture; no official code is used. Attribute names follow the official model
(``encoder.layers.N.self_attn``, ``query_embed``, ``position_encoding.pe`` ...), so
official state dicts load unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restorefw.ops import OpsModule
from restorefw_ipt._attention import MultiheadAttention

__all__ = ["IPTBody", "LearnedPositionalEncoding", "TransformerDecoderLayer", "TransformerEncoderLayer"]


def _norm(dim: int, no_norm: bool) -> nn.Module:
    return nn.Identity() if no_norm else nn.LayerNorm(dim)


def _plus(x: Tensor, pos: Tensor | None) -> Tensor:
    return x if pos is None else x + pos


class _FeedForward(OpsModule):
    """The ReLU MLP of a layer (``linear1``, ``linear2``) with its residual, through the op ``ipt.mlp``."""

    _mlp: Callable[..., Tensor]
    linear1: nn.Linear
    linear2: nn.Linear
    dropout: nn.Dropout

    def _bind_mlp(self) -> None:
        self.use_op("_mlp", "ipt.mlp")

    def _feed_forward(self, y: Tensor, x: Tensor) -> Tensor:
        """``x + MLP(y)``; with dropout active (training) the layers run one by one."""
        if self.training and self.dropout.p > 0:
            return x + self.dropout(self.linear2(self.dropout(F.relu(self.linear1(y)))))
        return self._mlp(y, self.linear1.weight, self.linear1.bias, self.linear2.weight, self.linear2.bias, x)


class TransformerEncoderLayer(_FeedForward):
    """Pre-norm encoder layer: ``x + MHA(LN(x))`` then ``x + MLP(LN(x))`` (ReLU MLP)."""

    def __init__(self, dim: int, heads: int, hidden: int, dropout: float, no_norm: bool) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(dim, heads, dropout)
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, dim)
        self.norm1 = _norm(dim, no_norm)
        self.norm2 = _norm(dim, no_norm)
        self.dropout = nn.Dropout(dropout)
        self._bind_mlp()

    def forward(self, x: Tensor, pos: Tensor | None = None) -> Tensor:
        """Encode ``(B, N, D)`` tokens; ``pos`` is added to queries and keys when given."""
        y = self.norm1(x)
        q = _plus(y, pos)
        x = x + self.dropout(self.self_attn(q, q, y))
        return self._feed_forward(self.norm2(x), x)


class TransformerDecoderLayer(_FeedForward):
    """Pre-norm decoder layer: self-attention, cross-attention to ``memory``, MLP.

    The task query ``query_pos`` is added to the queries (and to the self-attention
    keys) of every layer, as DETR does with its object queries.
    """

    def __init__(self, dim: int, heads: int, hidden: int, dropout: float, no_norm: bool) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(dim, heads, dropout)
        self.multihead_attn = MultiheadAttention(dim, heads, dropout)
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, dim)
        self.norm1 = _norm(dim, no_norm)
        self.norm2 = _norm(dim, no_norm)
        self.norm3 = _norm(dim, no_norm)
        self.dropout = nn.Dropout(dropout)
        self._bind_mlp()

    def forward(self, x: Tensor, memory: Tensor, pos: Tensor | None = None,
                query_pos: Tensor | None = None) -> Tensor:
        """Decode ``(B, N, D)`` tokens against the encoder's ``memory``."""
        y = self.norm1(x)
        q = _plus(y, query_pos)
        x = x + self.dropout(self.self_attn(q, q, y))
        y = self.norm2(x)
        attended = self.multihead_attn(_plus(y, query_pos), _plus(memory, pos), memory)
        x = x + self.dropout(attended)
        return self._feed_forward(self.norm3(x), x)


class _Layers(nn.Module):
    """Holds ``layers`` so that keys read ``encoder.layers.N...`` as in the official model."""

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)


class LearnedPositionalEncoding(nn.Module):
    """One learned vector per token position (``pe``), looked up through the ``position_ids`` buffer."""

    def __init__(self, num_positions: int, dim: int) -> None:
        super().__init__()
        self.pe = nn.Embedding(num_positions, dim)
        self.register_buffer("position_ids", torch.arange(num_positions).expand((1, -1)))

    def forward(self) -> Tensor:
        """The ``(1, N, D)`` table."""
        return self.pe(self.position_ids)


class IPTBody(OpsModule):
    """Transformer over the ``patch_dim``-square patches of a fixed-size feature map.

    Tokens are ``F.unfold`` patches (``D = channels·patch_dim²``). The encoder sees
    the tokens plus a learned positional encoding; the decoder's input is the
    encoder output itself, with the selected task's query embedding added in every
    layer; an MLP with a residual (``mlp_head``) ends the body, and ``F.fold``
    turns the tokens back into a feature map.

    Args:
        img_dim: side of the (square) feature map, the model's ``patch_size``.
        patch_dim: side of one token's patch.
        channels: feature channels (``n_feats``).
        num_heads: attention heads.
        num_layers: encoder layers, and decoder layers.
        num_queries: rows of the task query table.
        dropout: dropout rate.
        no_norm: no LayerNorms; Linear weights ~ N(0, std = 1/fan_in), as the official flag does.
        no_mlp: no ``linear_encoding``, ``mlp_head`` nor task queries.
        pos_every: add the positional encoding to queries/keys in every layer instead of once.
        no_pos: no positional encoding.
    """

    _mlp: Callable[..., Tensor]

    def __init__(self, img_dim: int, patch_dim: int, channels: int, num_heads: int, num_layers: int,
                 num_queries: int, dropout: float = 0.0, no_norm: bool = False, no_mlp: bool = False,
                 pos_every: bool = False, no_pos: bool = False) -> None:
        super().__init__()
        if img_dim % patch_dim:
            raise ValueError(f"patch_size {img_dim} is not a multiple of patch_dim {patch_dim}")
        self.img_dim, self.patch_dim = img_dim, patch_dim
        self.dim = channels * patch_dim**2
        self.num_tokens = (img_dim // patch_dim) ** 2
        self.no_mlp, self.pos_every, self.no_pos = no_mlp, pos_every, no_pos
        hidden = 4 * self.dim
        if not no_mlp:
            self.linear_encoding = nn.Linear(self.dim, self.dim)
            self.mlp_head = nn.Sequential(nn.Linear(self.dim, hidden), nn.Dropout(dropout), nn.ReLU(),
                                          nn.Linear(hidden, self.dim), nn.Dropout(dropout))
            self.query_embed = nn.Embedding(num_queries, self.dim * self.num_tokens)
        args = (self.dim, num_heads, hidden, dropout, no_norm)
        self.encoder = _Layers([TransformerEncoderLayer(*args) for _ in range(num_layers)])
        self.decoder = _Layers([TransformerDecoderLayer(*args) for _ in range(num_layers)])
        if not no_pos:
            self.position_encoding = LearnedPositionalEncoding(self.num_tokens, self.dim)
        self.dropout = nn.Dropout(dropout)
        self.use_op("_mlp", "ipt.mlp")
        if no_norm:
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.normal_(module.weight, std=1 / module.weight.shape[1])

    @property
    def num_queries(self) -> int:
        """Rows of the task query table (0 without one)."""
        return 0 if self.no_mlp else self.query_embed.num_embeddings

    def keep_query(self, row: int) -> None:
        """Shrink the query table to its row ``row`` (for a model pruned to one task)."""
        if self.no_mlp:
            return
        old = self.query_embed.weight
        self.query_embed = nn.Embedding(1, old.shape[1], device=old.device, dtype=old.dtype)
        with torch.no_grad():
            self.query_embed.weight.copy_(old[row : row + 1])

    def forward(self, x: Tensor, query_idx: int, con: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Map a ``(B, C, img_dim, img_dim)`` feature map to one of the same shape.

        Args:
            x: head features.
            query_idx: row of the task query table.
            con: also return the ``(B, N, D)`` token features (after ``mlp_head``)
                used by the contrastive loss.
        """
        _, _, h, w = x.shape
        tokens = F.unfold(x, self.patch_dim, stride=self.patch_dim).transpose(1, 2)
        if tokens.shape[1] != self.num_tokens:
            raise ValueError(f"the IPT body takes {self.img_dim}x{self.img_dim} inputs ({self.num_tokens} tokens), "
                             f"got {h}x{w}; larger images go through the model's chop")
        query = None
        if not self.no_mlp:
            tokens = self.dropout(self.linear_encoding(tokens)) + tokens
            query = self.query_embed.weight[query_idx].view(1, self.num_tokens, self.dim)
        pos = None if self.no_pos else self.position_encoding()
        if pos is not None and not self.pos_every:
            tokens, pos = tokens + pos, None
        memory = tokens
        for layer in self.encoder.layers:
            memory = layer(memory, pos)
        out = memory
        for layer in self.decoder.layers:
            out = layer(out, memory, pos, query)
        if not self.no_mlp:
            out = self._head_mlp(out)
        feature_map = F.fold(out.transpose(1, 2), (h, w), self.patch_dim, stride=self.patch_dim)
        return (feature_map, out) if con else feature_map

    def _head_mlp(self, out: Tensor) -> Tensor:
        """``mlp_head(out) + out``; without active dropout through the op ``ipt.mlp``."""
        first, second = self.mlp_head[0], self.mlp_head[3]
        if self.training and self.dropout.p > 0:
            return self.mlp_head(out) + out
        return self._mlp(out, first.weight, first.bias, second.weight, second.bias, out)
