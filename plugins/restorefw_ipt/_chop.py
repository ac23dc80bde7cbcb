"""Full-image inference for a fixed-input-size model: overlapped chop and x8 self-ensemble.

IPT's body only accepts ``patch × patch`` inputs (its positional and query tables fix
the token count), so every other image is cut into overlapping tiles. The official
test code (Chen et al., CVPR 2021, https://github.com/huawei-noah/Pretrained-IPT)
uses 48-pixel tiles at a stride of 12, keeps only the centre of each output tile
(a margin of 12 pixels is dropped on each side) and averages where kept centres
overlap; it only runs on CUDA. This clean-room version works on any device:

* the image is padded on the bottom/right (reflect, or replicate when the image is
  thinner than the padding) so that the tiles form a regular grid ending flush with
  the padded border;
* tiles from every image of the batch go through the model ``batch`` at a time;
* each output tile is weighted by a 0/1 mask that drops ``margin·scale`` pixels on
  every side *except* the sides lying on the padded image border, so every pixel is
  kept by at least one tile whenever ``stride <= patch - 2·margin``;
* the weighted sum divided by the summed weights is cropped back to ``(H·s, W·s)``.

A model that returns its input comes back exactly (within float rounding), and an
image of exactly one tile is passed through unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from restorefw.engine import self_ensemble

__all__ = ["chop_forward", "self_ensemble"]


def _padded_size(size: int, patch: int, stride: int) -> int:
    return patch + math.ceil(max(size - patch, 0) / stride) * stride


def _edge_masks(count: int, length: int, margin: int, like: Tensor) -> list[Tensor]:
    """1-D keep-masks of the tiles along one axis; outer edges of the first/last tile are kept."""
    masks = []
    for index in range(count):
        mask = like.new_ones(length)
        if margin and index > 0:
            mask[:margin] = 0
        if margin and index < count - 1:
            mask[-margin:] = 0
        masks.append(mask)
    return masks


def chop_forward(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    patch: int,
    stride: int,
    margin: int,
    scale: int = 1,
    batch: int = 64,
) -> Tensor:
    """Apply a ``patch × patch`` model to images of any size through overlapping tiles.

    Args:
        fn: maps ``(N, C, patch, patch)`` to ``(N, C', patch·scale, patch·scale)``.
        x: images ``(B, C, H, W)``.
        patch: tile side the model requires.
        stride: offset between neighbouring tiles, ``1 <= stride <= patch - 2·margin``.
        margin: input pixels dropped from each inner side of every output tile.
        scale: output/input size ratio of ``fn``.
        batch: tiles per call of ``fn`` (over all images of ``x``).

    Returns:
        ``(B, C', H·scale, W·scale)``. Gradients flow if the caller's grad mode is on.

    Raises:
        ValueError: inconsistent ``stride``/``margin``, or ``fn`` returned a wrong size.
    """
    if not 1 <= stride <= patch - 2 * margin or margin < 0:
        raise ValueError(f"chop needs 0 <= margin and 1 <= stride <= patch - 2*margin "
                         f"(patch {patch}), got stride {stride}, margin {margin}")
    b, _, h, w = x.shape
    ph, pw = _padded_size(h, patch, stride), _padded_size(w, patch, stride)
    if (ph, pw) != (h, w):
        mode = "reflect" if ph - h < h and pw - w < w else "replicate"
        x = F.pad(x, (0, pw - w, 0, ph - h), mode=mode)
    rows, cols = range(0, ph - patch + 1, stride), range(0, pw - patch + 1, stride)
    size = patch * scale
    row_masks = _edge_masks(len(rows), size, margin * scale, x)
    col_masks = _edge_masks(len(cols), size, margin * scale, x)
    tiles = [(i, j) for i in range(len(rows)) for j in range(len(cols))]
    per_call = max(1, batch // b)
    out: Tensor | None = None
    weight = x.new_zeros(1, 1, ph * scale, pw * scale)
    for start in range(0, len(tiles), per_call):
        chunk = tiles[start : start + per_call]
        pieces = torch.cat([x[..., rows[i] : rows[i] + patch, cols[j] : cols[j] + patch] for i, j in chunk])
        result = fn(pieces)
        if tuple(result.shape[-2:]) != (size, size):
            raise ValueError(f"the model returned {tuple(result.shape[-2:])} for a {patch}x{patch} tile; "
                             f"expected {(size, size)} with scale {scale}")
        if out is None:
            # Output channels and dtype are only known from the first result.
            out = result.new_zeros(b, result.shape[1], ph * scale, pw * scale)
        for k, (i, j) in enumerate(chunk):
            mask = row_masks[i][:, None] * col_masks[j][None, :]
            top, left = rows[i] * scale, cols[j] * scale
            out[..., top : top + size, left : left + size] += result[k * b : (k + 1) * b] * mask
            weight[..., top : top + size, left : left + size] += mask
    assert out is not None  # the grid always has at least one tile
    return (out / weight)[..., : h * scale, : w * scale]
