"""Padding to a size multiple and tiled inference for image models.

Overlapping tiles follow the demo of Restormer (https://github.com/swz30/Restormer):
pad the bottom/right edges to a multiple of the model's down-sampling factor, cut
the image into overlapping tiles whose last tile sits flush with the border, run
the model on one tile at a time and average the overlaps uniformly. That is exact
only for models whose receptive field fits in the overlap; models that pool
statistics over the whole image (Restormer's MDTA) can instead offer exact tiling
of their own (:class:`ExactTiling`), which ``mode="auto"`` prefers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol, runtime_checkable

import torch.nn.functional as F
from torch import Tensor

__all__ = ["TILE_MODES", "ExactTiling", "TileMode", "pad_to_multiple", "tiled_forward"]

TileMode = Literal["auto", "exact", "overlap"]
TILE_MODES: tuple[TileMode, ...] = ("auto", "exact", "overlap")


@runtime_checkable
class ExactTiling(Protocol):
    """A model that computes its own output piecewise, equal to the untiled forward up to rounding.

    A model whose ability depends on its configuration (a composition of parts) may also have a
    boolean ``exact_tiling`` attribute; ``False`` means :meth:`forward_tiled` is not available.
    """

    def forward_tiled(self, x: Tensor, tile: int) -> Tensor:
        """The forward of ``x`` (H, W multiples of the model's size multiple) with temporaries
        bounded by about ``tile²`` pixels per layer."""
        ...


def pad_to_multiple(x: Tensor, multiple: int, mode: str = "reflect") -> tuple[Tensor, tuple[int, int]]:
    """Pad the bottom and right edges of ``x`` so that H and W are multiples of ``multiple``.

    Args:
        x: image batch of shape ``(B, C, H, W)``.
        multiple: required divisor of the padded height and width.
        mode: ``torch.nn.functional.pad`` mode. ``"reflect"`` cannot pad by as much
            as the size of the image, so images smaller than their padding fall back
            to ``"replicate"``.

    Returns:
        The padded tensor (``x`` itself when no padding is needed) and the
        original ``(H, W)``, to crop the result back.
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if pad_h == 0 and pad_w == 0:
        return x, (h, w)
    if mode == "reflect" and (pad_h >= h or pad_w >= w):
        mode = "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode), (h, w)


def _tile_origins(size: int, tile: int, stride: int) -> list[int]:
    """Start offsets along one axis; the last tile ends exactly at ``size``."""
    if tile >= size:
        return [0]
    return [*range(0, size - tile, stride), size - tile]


def tiled_forward(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    tile: int | None,
    overlap: int = 32,
    multiple: int = 8,
    scale: int = 1,
    mode: TileMode = "auto",
) -> Tensor:
    """Apply an image-to-image function to ``x``, whole or in tiles.

    ``x`` is padded to ``multiple`` first and the result is cropped back to
    ``(H * scale, W * scale)``. Tiles are processed one at a time, so the memory
    ``fn`` needs is bounded by the tile size; only the padded input, the output
    and a count map are held at full size. Gradients flow if the caller's grad
    mode is on.

    A tile axis longer than the image is shortened to the image, so thin images
    get rectangular tiles (the official demo would use ``min(tile, H, W)`` squares,
    which fails for images thinner than the overlap).

    Args:
        fn: maps a ``(B, C, h, w)`` tile to ``(B, C_out, h * scale, w * scale)``.
        x: image batch of shape ``(B, C, H, W)``.
        tile: tile side in input pixels, a multiple of ``multiple``; ``None``
            processes the whole (padded) image in one call.
        overlap: pixels shared by neighbouring tiles; ``0 <= overlap < tile``.
        multiple: size divisor required by ``fn`` (8 for three 2x down-samplings).
        scale: output/input size ratio of ``fn`` (super-resolution factor).
        mode: ``"overlap"`` blends overlapping tiles; ``"exact"`` calls the model's
            :meth:`ExactTiling.forward_tiled` (``overlap`` is then unused); ``"auto"``
            takes ``"exact"`` when ``fn`` offers it.

    Returns:
        The output of shape ``(B, C_out, H * scale, W * scale)``.

    Raises:
        ValueError: invalid ``tile``/``overlap``/``mode``, or ``fn`` returned an unexpected size.
    """
    if mode not in TILE_MODES:
        raise ValueError(f"tile mode must be one of {', '.join(TILE_MODES)}, got {mode!r}")
    exact = isinstance(fn, ExactTiling) and getattr(fn, "exact_tiling", True) and mode != "overlap"
    if mode == "exact" and not exact:
        raise ValueError(f"{type(fn).__name__} has no exact tiling (forward_tiled); use tile mode 'overlap'")
    if tile is not None:
        if tile <= 0 or tile % multiple:
            raise ValueError(f"tile must be a positive multiple of {multiple}, got {tile}")
        if not exact and not 0 <= overlap < tile:
            raise ValueError(f"overlap must satisfy 0 <= overlap < tile ({tile}), got {overlap}")
    padded, (h, w) = pad_to_multiple(x, multiple)
    ph, pw = padded.shape[-2:]
    if tile is None or (tile >= ph and tile >= pw):
        return fn(padded)[..., : h * scale, : w * scale]
    if exact:
        return fn.forward_tiled(padded, tile)[..., : h * scale, : w * scale]  # type: ignore[union-attr]

    tile_h, tile_w = min(tile, ph), min(tile, pw)
    stride = tile - overlap
    out: Tensor | None = None
    count: Tensor | None = None
    for y in _tile_origins(ph, tile_h, stride):
        for x0 in _tile_origins(pw, tile_w, stride):
            piece = fn(padded[..., y : y + tile_h, x0 : x0 + tile_w])
            expected = (tile_h * scale, tile_w * scale)
            if tuple(piece.shape[-2:]) != expected:
                raise ValueError(
                    f"fn returned a {tuple(piece.shape[-2:])} tile for a {(tile_h, tile_w)} input; "
                    f"expected {expected} with scale={scale}"
                )
            if out is None or count is None:
                # The output channel count and dtype are only known from the first tile.
                out = piece.new_zeros(*piece.shape[:2], ph * scale, pw * scale)
                count = piece.new_zeros(1, 1, ph * scale, pw * scale)
            rows = slice(y * scale, (y + tile_h) * scale)
            cols = slice(x0 * scale, (x0 + tile_w) * scale)
            out[..., rows, cols] += piece
            count[..., rows, cols] += 1
    assert out is not None and count is not None  # at least one tile always runs
    return (out / count)[..., : h * scale, : w * scale]
