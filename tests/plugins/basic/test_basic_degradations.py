"""Tests of the synthetic degradations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restorefw_basic._degrade import add_gaussian_noise, blur, rain_streaks, sample_sigma, subsample


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _images(dtype: torch.dtype = torch.float32, shape: tuple[int, ...] = (2, 3, 32, 32)
            ) -> torch.Tensor:
    return torch.rand(shape, generator=_gen(123), dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_noise_std_matches_sigma(dtype: torch.dtype) -> None:
    x = torch.full((4, 3, 64, 64), 0.5, dtype=dtype)
    y = add_gaussian_noise(x, 25.0, _gen(0))
    assert y.dtype == dtype and y.shape == x.shape
    assert (y - x).std().item() == pytest.approx(25 / 255, rel=0.02)
    assert abs((y - x).mean().item()) < 0.02 * 25 / 255
    # Unclipped by default, so noise on white pixels goes above 1.
    edge = add_gaussian_noise(torch.ones(1, 1, 32, 32, dtype=dtype), 25.0, _gen(0))
    assert edge.max().item() > 1.0
    clipped = add_gaussian_noise(torch.ones(1, 1, 32, 32, dtype=dtype), 25.0, _gen(0), clip=True)
    assert clipped.max().item() <= 1.0 and clipped.min().item() >= 0.0


def test_per_image_sigma() -> None:
    x = torch.full((3, 3, 64, 64), 0.5)
    sigmas = torch.tensor([5.0, 15.0, 50.0])
    y = add_gaussian_noise(x, sigmas, _gen(1))
    for i, s in enumerate(sigmas.tolist()):
        assert (y[i] - x[i]).std().item() == pytest.approx(s / 255, rel=0.03)
    zero = add_gaussian_noise(x, torch.tensor([0.0, 0.0, 0.0]), _gen(1))
    assert torch.equal(zero, x)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        add_gaussian_noise(x, torch.tensor([5.0, 15.0]), _gen(1))
    with pytest.raises(ValueError):
        add_gaussian_noise(x, -1.0, _gen(1))


def test_noise_determinism() -> None:
    x = _images()
    a = add_gaussian_noise(x, 15.0, _gen(7))
    b = add_gaussian_noise(x, 15.0, _gen(7))
    c = add_gaussian_noise(x, 15.0, _gen(8))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_sample_sigma() -> None:
    s = sample_sigma(500, 5.0, 50.0, _gen(2))
    assert s.shape == (500,) and s.dtype == torch.float32
    assert s.min().item() >= 5.0 and s.max().item() <= 50.0
    assert s.mean().item() == pytest.approx(27.5, abs=2.0)
    assert torch.equal(s, sample_sigma(500, 5.0, 50.0, _gen(2)))
    assert sample_sigma(3, 0.0, 1.0, _gen(2), dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ValueError):
        sample_sigma(3, 10.0, 5.0, _gen(2))


@pytest.mark.parametrize("size", [5, 4])
def test_blur_with_delta_is_identity(size: int) -> None:
    delta = torch.zeros(size, size)
    delta[size // 2, size // 2] = 1.0
    x = _images()
    assert torch.equal(blur(x, delta), x)


def _reference_convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    return scipy_ndimage.convolve(image, kernel, mode="mirror")


@pytest.mark.parametrize("shape", [(5, 5), (4, 4), (3, 6)])
def test_blur_matches_scipy_mirror_convolution(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    x = _images(torch.float64, (2, 3, 17, 20))
    shared = torch.tensor(rng.random(shape))
    got = blur(x, shared)
    per_image = torch.tensor(rng.random((2, *shape)))
    got_per_image = blur(x, per_image)
    for b in range(2):
        for c in range(3):
            image = x[b, c].numpy()
            np.testing.assert_allclose(got[b, c].numpy(),
                                       _reference_convolve(image, shared.numpy()), atol=1e-12)
            np.testing.assert_allclose(got_per_image[b, c].numpy(),
                                       _reference_convolve(image, per_image[b].numpy()),
                                       atol=1e-12)


def test_blur_keeps_constant_and_dtype() -> None:
    kernel = torch.rand(7, 7, generator=_gen(3), dtype=torch.float64)
    kernel /= kernel.sum()
    x = torch.full((1, 3, 16, 16), 0.3, dtype=torch.float32)
    y = blur(x, kernel)
    assert y.dtype == torch.float32 and y.shape == x.shape
    assert torch.allclose(y, x, atol=1e-6)
    with pytest.raises(ValueError, match="too large"):
        blur(x, torch.ones(41, 41) / 41**2)
    with pytest.raises(ValueError, match=r"\(1, kh, kw\)"):
        blur(x, torch.ones(2, 3, 3))


def test_subsample() -> None:
    x = _images(shape=(2, 3, 64, 63))
    y = subsample(x, 4)
    assert y.shape == (2, 3, 16, 16)
    assert torch.equal(y[..., 1, 2], x[..., 4, 8])
    assert torch.equal(subsample(x, 1), x)
    with pytest.raises(ValueError):
        subsample(x, 0)
    with pytest.raises(ValueError):
        subsample(x, 2.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rain_range_brightness_and_dtype(dtype: torch.dtype) -> None:
    x = _images(dtype, (2, 3, 48, 48)) * 0.8
    y = rain_streaks(x, _gen(4))
    assert y.dtype == dtype and y.device == x.device and y.shape == x.shape
    assert y.min().item() >= 0.0 and y.max().item() <= 1.0
    # Screen blending never darkens.
    assert (y >= x).all()
    assert y.mean().item() > x.mean().item() + 0.01
    assert torch.equal(rain_streaks(x, _gen(4), density=0.0), x)


def test_rain_determinism() -> None:
    x = _images()
    a = rain_streaks(x, _gen(5))
    assert torch.equal(a, rain_streaks(x, _gen(5)))
    assert not torch.equal(a, rain_streaks(x, _gen(6)))
    # Images of one batch get different rain.
    same = torch.zeros(2, 1, 32, 32)
    r = rain_streaks(same, _gen(5))
    assert not torch.equal(r[0], r[1])


def test_rain_streaks_follow_the_angle() -> None:
    black = torch.zeros(1, 1, 64, 64, dtype=torch.float64)

    def correlation(rain: torch.Tensor, dy: int, dx: int) -> float:
        r = rain[0, 0] - rain.mean()
        shifted = torch.roll(r, shifts=(dy, dx), dims=(0, 1))
        return float((r * shifted).mean() / (r * r).mean())

    vertical = rain_streaks(black, _gen(7), density=0.01, angle=(0.0, 0.0))
    assert correlation(vertical, 3, 0) > 0.5 > correlation(vertical, 0, 3)
    horizontal = rain_streaks(black, _gen(7), density=0.01, angle=(90.0, 90.0))
    assert correlation(horizontal, 0, 3) > 0.5 > correlation(horizontal, 3, 0)


def test_rain_rejects_bad_parameters() -> None:
    x = _images()
    for kwargs in ({"density": 1.5}, {"length": (0, 5)}, {"length": (9, 5)}, {"width": 0},
                   {"intensity": (0.5, 1.5)}, {"angle": (10.0, -10.0)}):
        with pytest.raises(ValueError):
            rain_streaks(x, _gen(0), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        rain_streaks(x[0], _gen(0))
