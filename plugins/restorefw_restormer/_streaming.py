"""Exact tiled inference for Restormer: the network runs layer by layer over strips of rows.

MDTA normalises q and k over all pixels and mixes channels with one attention map per
image, so a tile run through the whole model sees other statistics than the full image
and overlapping tiles disagree (visible seams). Here each layer runs over the full
feature map in strips of rows, each read with the one-row halo of its 3x3 convolutions;
each MDTA first sums ``q kᵀ`` and the squared norms of q and k over all strips, then
applies the resulting attention map strip by strip. The result equals the untiled
forward up to float rounding; memory for temporaries is bounded by the strip, while the
full-resolution maps are held: the level-1 map of ``2·dim`` channels (1.6 GB for a 2048²
image with the default model) and the skips of the deeper levels. Residual layers update
their map in place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restorefw.engine import mapped_allocations, trim_heap
from restorefw_restormer._ops import nhwc_attend, nhwc_heads, nhwc_square_sums

__all__ = ["forward_streamed"]

StripFn = Callable[[Tensor], Tensor]


# The layers are read through these structural types so that this module, which ``_arch``
# imports, needs nothing from ``_arch`` in return.
class _Attention(Protocol):
    qkv: nn.Conv2d
    qkv_dwconv: nn.Conv2d
    project_out: nn.Module
    num_heads: int
    temperature: Tensor


class _Block(Protocol):
    attn: _Attention
    norm1: nn.Module
    norm2: nn.Module
    ffn: nn.Module


class _Restormer(Protocol):
    dim: int
    dual_pixel_task: bool
    patch_embed: nn.Module
    down1_2: nn.Module
    down2_3: nn.Module
    down3_4: nn.Module
    up4_3: nn.Module
    up3_2: nn.Module
    up2_1: nn.Module
    reduce_chan_level3: nn.Module
    reduce_chan_level2: nn.Module
    skip_conv: nn.Module
    output: nn.Module
    encoder_level1: nn.Sequential
    encoder_level2: nn.Sequential
    encoder_level3: nn.Sequential
    latent: nn.Sequential
    decoder_level3: nn.Sequential
    decoder_level2: nn.Sequential
    decoder_level1: nn.Sequential
    refinement: nn.Sequential


def _full(like: Tensor, *shape: int) -> Tensor:
    """A channels-last full-resolution map, mapped so that its memory is returned when it is
    freed rather than left in the heap between the strips' temporaries (see
    :func:`mapped_allocations`)."""
    with mapped_allocations():
        return torch.empty(shape, dtype=like.dtype, device=like.device, memory_format=torch.channels_last)


def _strips(height: int, rows: int) -> list[tuple[int, int]]:
    return [(r, min(r + rows, height)) for r in range(0, height, rows)]


def _rows(x: Tensor, budget: int, channels: int = 0) -> int:
    """Rows per strip so that a strip of ``x`` holds about ``budget`` values; even, for PixelUnshuffle.

    The layers' temporaries are a fixed multiple of their channels, so a budget in values
    (not pixels) keeps them about the same size at every level. ``channels`` raises the
    count for layers that widen their input.
    """
    return max(2, budget // max(x.shape[1], channels) // x.shape[-1] // 2 * 2)


def _window(x: Tensor, r0: int, r1: int, halo: int) -> tuple[Tensor, int]:
    """Rows ``r0:r1`` of ``x`` with up to ``halo`` rows either side, and the offset of row ``r0``."""
    a = max(0, r0 - halo)
    return x[..., a : min(x.shape[-2], r1 + halo), :], r0 - a


def _map(fn: StripFn, x: Tensor, budget: int, halo: int = 1, channels: int = 0, out: Tensor | None = None) -> Tensor:
    """``fn`` over ``x`` strip by strip into ``out`` or a new map; ``fn`` may change the channels and halve the rows.

    ``fn`` is called on windows with ``halo`` extra rows; its own zero padding at a window's
    edge only touches output rows of the halo, which are cropped, and at the image border it
    is the padding of the untiled forward. Down-sampling ``fn`` (PixelUnshuffle) need an even
    ``halo`` so that row pairs line up with the untiled forward's.
    """
    for r0, r1 in _strips(x.shape[-2], _rows(x, budget, channels)):
        window, offset = _window(x, r0, r1, halo)
        piece = fn(window)
        shrink = window.shape[-2] // piece.shape[-2]
        if out is None:
            out = _full(piece, *piece.shape[:2], x.shape[-2] // shrink, piece.shape[-1])
        out[..., r0 // shrink : r1 // shrink, :] = piece[..., offset // shrink : (offset + r1 - r0) // shrink, :]
    assert out is not None  # a map has at least one row
    return out


def _residual(fn: StripFn, x: Tensor, budget: int) -> Tensor:
    """``x += fn(x)`` in place, strip by strip from the top; ``fn`` needs a one-row halo.

    The row above a strip was already updated, so its original is kept aside before each
    update.
    """
    above: Tensor | None = None
    for r0, r1 in _strips(x.shape[-2], _rows(x, budget)):
        lower = x[..., r0 : min(x.shape[-2], r1 + 1), :]
        window = lower if above is None else torch.cat([above, lower], dim=-2)
        offset = 0 if above is None else 1
        above = x[..., r1 - 1 : r1, :].clone()
        x[..., r0:r1, :] += fn(window)[..., offset : offset + r1 - r0, :]
    return x


def _split_qkv(attn: _Attention, part: slice) -> StripFn:
    """The 1x1 and depthwise 3x3 convolutions of MDTA restricted to the channels ``part``."""
    qkv, dw = attn.qkv, attn.qkv_dwconv
    weight, bias = qkv.weight[part], None if qkv.bias is None else qkv.bias[part]
    dw_weight, dw_bias = dw.weight[part], None if dw.bias is None else dw.bias[part]
    groups = dw_weight.shape[0]
    return lambda y: F.conv2d(F.conv2d(y, weight, bias), dw_weight, dw_bias, padding=1, groups=groups)


def _attention_map(block: _Block, x: Tensor, budget: int) -> Tensor:
    """Per-image, per-head MDTA attention ``(B, heads, C/heads, C/heads)`` summed over all strips."""
    attn, channels = block.attn, x.shape[1]
    heads, per_head = attn.num_heads, x.shape[1] // attn.num_heads
    query_key = _split_qkv(attn, slice(0, 2 * channels))
    # Sums over millions of pixels: at least float32 even under bf16/fp16 autocast.
    acc = torch.promote_types(x.dtype, torch.float32)
    gram = x.new_zeros(x.shape[0], heads, per_head, per_head, dtype=acc)
    q_sq = x.new_zeros(x.shape[0], heads, per_head, 1, dtype=acc)
    k_sq = torch.zeros_like(q_sq)
    for r0, r1 in _strips(x.shape[-2], _rows(x, budget)):
        window, offset = _window(x, r0, r1, 1)
        qk = query_key(block.norm1(window))[..., offset : offset + r1 - r0, :].to(acc)
        q, k = nhwc_heads(qk, heads, 2)
        gram += q.transpose(-2, -1) @ k
        squares = nhwc_square_sums(qk, 2 * channels).view(x.shape[0], 2, heads, per_head)
        q_sq += squares[:, 0].unsqueeze(-1)
        k_sq += squares[:, 1].unsqueeze(-1)
    # As F.normalize: each norm is clamped at 1e-12.
    norms = q_sq.sqrt().clamp_min(1e-12) * k_sq.sqrt().clamp_min(1e-12).transpose(-2, -1)
    return (gram / norms * attn.temperature.to(acc)).softmax(dim=-1)


def _block(block: _Block, x: Tensor, budget: int) -> Tensor:
    attn = block.attn
    weights = _attention_map(block, x, budget)
    value = _split_qkv(attn, slice(2 * x.shape[1], 3 * x.shape[1]))

    def attend(window: Tensor) -> Tensor:
        v = value(block.norm1(window))
        (heads,) = nhwc_heads(v, attn.num_heads, 1)
        return attn.project_out(nhwc_attend(heads, weights.to(v.dtype), *v.shape[-2:]))

    _residual(attend, x, budget)
    return _residual(lambda window: block.ffn(block.norm2(window)), x, budget)


def _stage(stage: nn.Sequential, x: Tensor, budget: int) -> Tensor:
    for block in stage:
        x = _block(block, x, budget)  # type: ignore[arg-type]
    # The next stage's strips have other sizes: their temporaries would not fit the same holes.
    trim_heap()
    return x


def _upsampled(up: nn.Module, low: Tensor, budget: int) -> Iterator[tuple[slice, Tensor]]:
    """``up(low)`` strip by strip: the rows of the doubled map and their values."""
    for r0, r1 in _strips(low.shape[-2], _rows(low, budget // 4)):
        window, offset = _window(low, r0, r1, 1)
        yield slice(2 * r0, 2 * r1), up(window)[..., 2 * offset : 2 * (offset + r1 - r0), :]


def _up_merge(up: nn.Module, reduce: nn.Module, low: Tensor, skip: Tensor, budget: int) -> Tensor:
    """``reduce(cat(up(low), skip))`` strip by strip, without the full concatenation in memory."""
    out: Tensor | None = None
    for rows, high in _upsampled(up, low, budget):
        piece = reduce(torch.cat([high, skip[..., rows, :]], dim=1))
        if out is None:
            out = _full(piece, *piece.shape[:2], *skip.shape[-2:])
        out[..., rows, :] = piece
    assert out is not None
    return out


def _up_into(up: nn.Module, low: Tensor, out: Tensor, budget: int) -> Tensor:
    """Write ``up(low)`` into the first channels of ``out``, whose others already hold the skip."""
    for rows, high in _upsampled(up, low, budget):
        out[:, : high.shape[1], rows, :] = high
    return out


@torch.inference_mode()
def forward_streamed(model: _Restormer, x: Tensor, pixels: int) -> Tensor:
    """The output of ``model(x)``, computed in strips of about ``pixels`` pixels per layer.

    Args:
        model: a whole Restormer (also dual-pixel).
        x: ``(B, C_in, H, W)`` with H and W multiples of 8.
        pixels: strip size at the first level (``dim`` channels); deeper, wider levels take
            proportionally fewer pixels. Temporaries scale with it, the result does not.
    """
    # Channels-last maps: faster convolutions without reorder buffers, and rows of a strip are
    # contiguous in memory.
    x = x.contiguous(memory_format=torch.channels_last)
    budget = pixels * model.dim
    b, _, h, w = x.shape
    # Level 1 of the decoder concatenates [up(dec2), enc1]: enc1 lives in the second half of
    # that map from the start, so the largest map is never held twice.
    level1 = _full(x, b, 2 * model.dim, h, w)
    enc1 = level1[:, model.dim :]
    embedding = _map(model.patch_embed, x, budget, channels=model.dim, out=enc1)
    if model.dual_pixel_task:
        embedding = _full(x, b, model.dim, h, w).copy_(enc1)
    _stage(model.encoder_level1, enc1, budget)
    enc2 = _stage(model.encoder_level2, _map(model.down1_2, enc1, budget, halo=2), budget)
    enc3 = _stage(model.encoder_level3, _map(model.down2_3, enc2, budget, halo=2), budget)
    latent = _stage(model.latent, _map(model.down3_4, enc3, budget, halo=2), budget)
    # Each skip and each input is released as soon as the decoder has used it.
    dec = _stage(model.decoder_level3, _up_merge(model.up4_3, model.reduce_chan_level3, latent, enc3, budget), budget)
    del latent, enc3
    dec = _stage(model.decoder_level2, _up_merge(model.up3_2, model.reduce_chan_level2, dec, enc2, budget), budget)
    del enc2
    dec = _stage(model.decoder_level1, _up_into(model.up2_1, dec, level1, budget), budget)
    del enc1, level1
    dec = _stage(model.refinement, dec, budget)
    if model.dual_pixel_task:
        for r0, r1 in _strips(dec.shape[-2], _rows(dec, budget)):
            dec[..., r0:r1, :] += model.skip_conv(embedding[..., r0:r1, :])
        return _map(model.output, dec, budget)
    del embedding
    out = _map(model.output, dec, budget)
    return out.add_(x)
