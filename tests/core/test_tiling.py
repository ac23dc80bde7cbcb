"""Tests for padding to a size multiple and tiled inference."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from restorefw._tiling import pad_to_multiple, tiled_forward


def _origins(size: int, tile: int, stride: int) -> list[int]:
    return [0] if tile >= size else [*range(0, size - tile, stride), size - tile]


def test_pad_to_multiple_pads_bottom_right_only() -> None:
    x = torch.rand(1, 3, 37, 61)
    padded, size = pad_to_multiple(x, 8)
    assert size == (37, 61)
    assert padded.shape[-2:] == (40, 64)
    assert torch.equal(padded[..., :37, :61], x)
    # Reflect mode mirrors the rows before the border (row 36 is the axis).
    assert torch.equal(padded[..., 37, :61], x[..., 35, :])


def test_pad_to_multiple_no_padding_returns_input() -> None:
    x = torch.rand(1, 3, 16, 24)
    padded, size = pad_to_multiple(x, 8)
    assert padded is x and size == (16, 24)


def test_pad_to_multiple_tiny_image_falls_back_to_replicate() -> None:
    x = torch.rand(1, 1, 3, 5)
    padded, _ = pad_to_multiple(x, 8)
    assert padded.shape[-2:] == (8, 8)
    assert torch.equal(padded[..., 7, 7], x[..., 2, 4])


@pytest.mark.parametrize(("h", "w", "tile", "overlap"), [(37, 61, 16, 4), (64, 64, 32, 8), (100, 77, 24, 8)])
def test_identity_is_preserved(h: int, w: int, tile: int, overlap: int) -> None:
    x = torch.rand(2, 3, h, w)
    out = tiled_forward(lambda t: t, x, tile=tile, overlap=overlap)
    assert out.shape == x.shape
    torch.testing.assert_close(out, x, rtol=1e-6, atol=1e-7)


def test_tiles_are_bounded_by_tile_size() -> None:
    seen: list[tuple[int, ...]] = []

    def fn(t: Tensor) -> Tensor:
        seen.append(tuple(t.shape[-2:]))
        return t

    tiled_forward(fn, torch.rand(1, 3, 100, 77), tile=32, overlap=8)
    assert len(seen) > 1
    assert all(h <= 32 and w <= 32 and h % 8 == 0 and w % 8 == 0 for h, w in seen)


def test_local_conv_matches_untiled_away_from_seams() -> None:
    torch.manual_seed(0)
    kernel = torch.randn(3, 3).tolist()
    radius, size, tile, overlap = 1, (64, 80), 32, 8

    def conv(t: Tensor) -> Tensor:
        # A 3x3 zero-padded convolution from shifted copies: the same float operations
        # in the same order for every pixel (library convs may vary at 1 ulp with the size).
        p = F.pad(t, (radius,) * 4)
        h, w = t.shape[-2:]
        out = torch.zeros_like(t)
        for dy in range(3):
            for dx in range(3):
                out = out + kernel[dy][dx] * p[..., dy : dy + h, dx : dx + w]
        return out

    x = torch.rand(1, 3, *size, dtype=torch.float64)
    ref = tiled_forward(conv, x, tile=None)
    out = tiled_forward(conv, x, tile=tile, overlap=overlap)

    def reliable(n: int) -> Tensor:
        # A pixel is exact when every tile covering it sees its whole receptive field,
        # or is cut only by the image border (where the untiled conv pads the same way).
        ok = torch.ones(n, dtype=torch.bool)
        for o in _origins(n, tile, tile - overlap):
            for i in range(o, o + tile):
                if (o > 0 and i < o + radius) or (o + tile < n and i >= o + tile - radius):
                    ok[i] = False
        return ok

    mask = reliable(size[0])[:, None] & reliable(size[1])[None, :]
    assert mask.float().mean() > 0.8
    assert torch.equal(out[..., mask], ref[..., mask])
    assert not torch.equal(out, ref)  # seams do differ: uniform averaging keeps edge artefacts


def test_scale_two_nearest_upsampling() -> None:
    def up(t: Tensor) -> Tensor:
        return F.interpolate(t, scale_factor=2, mode="nearest")

    x = torch.rand(1, 3, 37, 61)
    out = tiled_forward(up, x, tile=16, overlap=8, scale=2)
    assert out.shape == (1, 3, 74, 122)
    torch.testing.assert_close(out, up(x), rtol=1e-6, atol=1e-7)


def test_thin_image_uses_rectangular_tiles() -> None:
    x = torch.rand(1, 3, 16, 200)
    out = tiled_forward(lambda t: t * 2, x, tile=64, overlap=32)
    torch.testing.assert_close(out, x * 2)


def test_gradients_flow_under_grad_mode() -> None:
    x = torch.rand(1, 3, 40, 40, requires_grad=True)
    tiled_forward(lambda t: t * 3, x, tile=16, overlap=4).sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, torch.full_like(x, 3.0))


def test_tile_not_multiple_raises() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        tiled_forward(lambda t: t, torch.rand(1, 3, 64, 64), tile=20, overlap=4)


@pytest.mark.parametrize("overlap", [32, 40, -1])
def test_bad_overlap_raises(overlap: int) -> None:
    with pytest.raises(ValueError, match="overlap"):
        tiled_forward(lambda t: t, torch.rand(1, 3, 64, 64), tile=32, overlap=overlap)


def test_wrong_output_size_raises() -> None:
    with pytest.raises(ValueError, match="scale=1"):
        tiled_forward(lambda t: t[..., :-1, :], torch.rand(1, 3, 64, 64), tile=32, overlap=8)


class _Encoder(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x * 2]


class _Decoder(torch.nn.Module):
    def forward(self, features: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return features[0] + x


class _TilingDecoder(_Decoder):
    def exact_tiling_with(self, encoder):
        return (lambda x, tile: self(encoder(x), x) + 1) if isinstance(encoder, _Encoder) else None


def test_compositions_tile_exactly_only_when_their_decoder_can():
    from restorefw.models import EncoderDecoder

    x = torch.rand(1, 3, 40, 40)
    plain = EncoderDecoder(_Encoder(), _Decoder())
    assert not plain.exact_tiling
    assert torch.allclose(tiled_forward(plain, x, tile=16, overlap=4), 3 * x)  # auto: overlapping tiles
    with pytest.raises(ValueError, match="has no exact tiling"):
        tiled_forward(plain, x, tile=16, mode="exact")
    tiling = EncoderDecoder(_Encoder(), _TilingDecoder())
    assert tiling.exact_tiling
    assert torch.allclose(tiled_forward(tiling, x, tile=16), 3 * x + 1)  # the decoder's own tiling ran
    assert torch.allclose(tiled_forward(tiling, x, tile=16, overlap=4, mode="overlap"), 3 * x)
