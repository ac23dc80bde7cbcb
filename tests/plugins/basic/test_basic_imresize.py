"""Tests of the MATLAB-style bicubic resizer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from restorefw_basic._imresize import imresize


def _keys_cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic kernel (a = -0.5), written out independently of the module."""
    a = -0.5
    t = np.abs(x)
    near = (a + 2) * t**3 - (a + 3) * t**2 + 1
    far = a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def _reference_resize_1d(row: np.ndarray, scale: float, antialias: bool) -> np.ndarray:
    """Resize a 1-D signal by summing over every integer tap in reach (0-based)."""
    n = row.size
    out = math.ceil(n * scale)
    stretch = 1.0 / scale if (antialias and scale < 1) else 1.0
    result = np.empty(out)
    for j in range(out):
        centre = (j + 0.5) / scale - 0.5
        taps = np.arange(math.floor(centre - 2 * stretch) - 1, math.ceil(centre + 2 * stretch) + 2)
        weights = _keys_cubic((centre - taps) / stretch) / stretch
        weights /= weights.sum()
        mirrored = taps.copy()
        # Half-sample symmetric extension: ... b a | a b c d | d c ...
        while (mirrored < 0).any() or (mirrored >= n).any():
            mirrored = np.where(mirrored < 0, -mirrored - 1, mirrored)
            mirrored = np.where(mirrored >= n, 2 * n - 1 - mirrored, mirrored)
        result[j] = float(np.dot(weights, row[mirrored]))
    return result


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [2.0, 3.0, 4.0, 1 / 2, 1 / 3, 1 / 4, 1.7, 0.63])
def test_constant_image_stays_constant(scale: float, dtype: torch.dtype) -> None:
    x = torch.full((2, 3, 24, 30), 0.37, dtype=dtype)
    y = imresize(x, scale=scale)
    tol = 1e-6 if dtype == torch.float32 else 1e-13
    assert y.dtype == dtype
    assert torch.allclose(y, torch.full_like(y, 0.37), rtol=0, atol=tol)


def test_hand_computed_downscale_of_length_four_row() -> None:
    # Output centres (0-based) are 0.5 and 2.5; the kernel is stretched x2, so tap i
    # weighs 0.5 * cubic((c - i) / 2) and taps reach |c - i| < 4. Taps -5..7 cover
    # both outputs; their half-sample mirror images in [0, 4) are listed by hand.
    taps = np.arange(-5, 8)
    sources = np.array([3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0])
    row = np.array([0.0, 1.0, 0.0, 0.0])
    expected = []
    for centre in (0.5, 2.5):
        weights = 0.5 * _keys_cubic((centre - taps) / 2.0)
        weights /= weights.sum()
        expected.append(float(np.dot(weights, row[sources])))
    # The same numbers by hand: cubic(1/4) = 111/128, cubic(5/4) = -9/128 for the
    # first output; cubic(3/4) = 29/128, cubic(7/4) = -3/128 for the second.
    assert expected == pytest.approx([0.5 * (111 - 9) / 128, 0.5 * (29 - 3) / 128], abs=1e-15)
    got = imresize(torch.tensor(row).view(1, 1, 4), scale=0.5)
    assert got.shape == (1, 1, 2)
    assert got.flatten().tolist() == pytest.approx(expected, abs=1e-12)


def test_known_values_without_antialias() -> None:
    # Centre 0.5 falls halfway between samples 0 and 1: weights 9/16 at distance 1/2
    # and -1/16 at distance 3/2 (sample -1 mirrors onto sample 0).
    got = imresize(torch.tensor([[[1.0, 2.0, 3.0, 4.0]]], dtype=torch.float64), scale=0.5,
                   antialias=False)
    expected = [9 / 16 * 3 - 1 / 16 * 4, 9 / 16 * 7 - 1 / 16 * 6]
    assert got.flatten().tolist() == pytest.approx(expected, abs=1e-14)


@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("scale", [0.5, 1 / 3, 0.3, 2.0, 2.5])
def test_matches_independent_1d_reference(scale: float, antialias: bool) -> None:
    rng = np.random.default_rng(1)
    row = rng.random(17)
    got = imresize(torch.tensor(row).view(1, 1, 17), scale=scale, antialias=antialias)
    # A height of 1 is resized too (every tap mirrors onto the one row), so take row 0.
    np.testing.assert_allclose(got[0, 0].numpy(), _reference_resize_1d(row, scale, antialias),
                               rtol=0, atol=1e-12)


def test_separable_2d_matches_reference_rows_then_columns() -> None:
    rng = np.random.default_rng(2)
    img = rng.random((9, 13))
    rows = np.stack([_reference_resize_1d(r, 0.5, True) for r in img])
    expected = np.stack([_reference_resize_1d(c, 0.5, True) for c in rows.T]).T
    got = imresize(torch.tensor(img).view(1, 1, 9, 13), scale=0.5)[0, 0].numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("factor", [2, 4])
def test_interior_matches_torch_antialiased_bicubic(factor: int) -> None:
    # torch's antialiased bicubic uses the same a = -0.5 kernel and centre mapping;
    # only the borders differ (torch renormalises instead of mirroring).
    x = torch.rand(1, 2, 32, 32, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for scale in (factor, 1 / factor):
        ours = imresize(x, scale=scale)
        ref = F.interpolate(x, scale_factor=scale, mode="bicubic", antialias=True,
                            align_corners=False)
        m = 3 * factor if scale > 1 else 3
        assert torch.allclose(ours[..., m:-m, m:-m], ref[..., m:-m, m:-m], atol=1e-12)


def test_upscaled_ramp_is_linear_in_interior() -> None:
    ramp = torch.arange(16, dtype=torch.float64).view(1, 1, 1, 16).expand(1, 1, 16, 16) / 15
    y = imresize(ramp, scale=2.0)[0, 0]
    interior = y[:, 4:-4]
    steps = interior[:, 1:] - interior[:, :-1]
    assert torch.allclose(steps, torch.full_like(steps, 0.5 / 15), atol=1e-12)
    # Columns are constant, so every row is the same.
    assert torch.allclose(y, y[:1].expand_as(y), atol=1e-12)


def _checkerboard(size: int) -> torch.Tensor:
    i, j = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return ((i + j) % 2).to(torch.float64).view(1, 1, size, size)


def test_checkerboard_downscale_by_two_is_flat() -> None:
    smooth = imresize(_checkerboard(32), scale=0.5)
    # Mirroring breaks the checkerboard's phase at the border, so only the two
    # outermost output pixels may stray from the mean.
    assert (smooth - 0.5)[..., 2:-2, 2:-2].abs().max().item() < 1e-12
    assert (smooth - 0.5).abs().max().item() < 0.05


def test_antialias_suppresses_aliasing() -> None:
    # At x1/2 without antialiasing every output centre sits halfway between two
    # inputs, which happens to average a checkerboard flat; x1/3 lands on input
    # pixels, so plain bicubic just picks them and keeps the full 0/1 swing.
    board = _checkerboard(48)
    assert (imresize(board, scale=1 / 3) - 0.5)[..., 2:-2, 2:-2].abs().max().item() < 1e-3
    assert (imresize(board, scale=1 / 3, antialias=False) - 0.5).abs().min().item() == 0.5
    # Stripes at 0.8 x Nyquist alias into a visible low frequency without antialiasing.
    n = torch.arange(64, dtype=torch.float64)
    stripes = (0.5 + 0.5 * torch.cos(math.pi * 0.8 * n)).view(1, 1, 1, 64).expand(1, 1, 8, 64)
    assert imresize(stripes, scale=0.5)[..., 3:-3].std().item() < 0.02
    assert imresize(stripes, scale=0.5, antialias=False)[..., 3:-3].std().item() > 0.1


def test_down_up_roundtrip_of_smooth_image() -> None:
    i, j = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    img = 0.5 + 0.25 * torch.sin(2 * math.pi * i / 32) * torch.cos(2 * math.pi * j / 40)
    img = img.view(1, 1, 64, 64).to(torch.float64)
    back = imresize(imresize(img, scale=0.5), scale=2.0)
    assert back.shape == img.shape
    assert (back - img).abs().mean().item() < 5e-3
    assert (back - img)[..., 8:-8, 8:-8].abs().max().item() < 1e-2


@pytest.mark.parametrize(
    ("shape", "kwargs", "expected"),
    [
        ((3, 173, 251), {"scale": 0.5}, (3, 87, 126)),
        ((2, 3, 173, 251), {"scale": 1 / 3}, (2, 3, 58, 84)),
        ((1, 1, 20, 30), {"scale": 1.5}, (1, 1, 30, 45)),
        ((1, 1, 20, 30), {"size": (7, 50)}, (1, 1, 7, 50)),
    ],
)
def test_output_shape(shape: tuple[int, ...], kwargs: dict[str, object],
                      expected: tuple[int, ...]) -> None:
    assert imresize(torch.rand(shape), **kwargs).shape == expected  # type: ignore[arg-type]


def test_float64_path_and_dtype_kept() -> None:
    x64 = torch.rand(1, 3, 20, 20, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    y64 = imresize(x64, scale=0.5)
    y32 = imresize(x64.float(), scale=0.5)
    assert y64.dtype == torch.float64 and y32.dtype == torch.float32
    assert torch.allclose(y64, y32.double(), atol=1e-6)


def test_bad_arguments() -> None:
    x = torch.rand(1, 1, 8, 8)
    with pytest.raises(ValueError, match="exactly one"):
        imresize(x)
    with pytest.raises(ValueError, match="exactly one"):
        imresize(x, scale=2.0, size=(4, 4))
    with pytest.raises(ValueError, match="> 0"):
        imresize(x, scale=-1.0)
    with pytest.raises(ValueError, match="shape"):
        imresize(torch.rand(8, 8), scale=2.0)
    with pytest.raises(TypeError):
        imresize(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), scale=2.0)
