"""Tests of Gaussian kernel construction, sampling and loading."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from restorefw_basic._kernels import (
    anisotropic_gaussian_kernel,
    isotropic_gaussian_kernel,
    load_kernel,
    sample_anisotropic_kernel,
    sample_isotropic_kernel,
)


def _covariance(kernel: torch.Tensor) -> np.ndarray:
    """Second moments about the kernel centre, as a 2x2 matrix in (x, y) order."""
    k = kernel.double().numpy()
    size = k.shape[0]
    r = np.arange(size) - (size - 1) / 2
    y, x = np.meshgrid(r, r, indexing="ij")
    exx, eyy, exy = (k * x * x).sum(), (k * y * y).sum(), (k * x * y).sum()
    return np.array([[exx, exy], [exy, eyy]])


@pytest.mark.parametrize("size", [5, 8, 15])
def test_kernels_sum_to_one_with_requested_dtype(size: int) -> None:
    iso = isotropic_gaussian_kernel(size, 1.3)
    aniso = anisotropic_gaussian_kernel(size, 3.0, 0.7, 0.4, dtype=torch.float64)
    assert iso.shape == aniso.shape == (size, size)
    assert iso.dtype == torch.float32 and aniso.dtype == torch.float64
    assert iso.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert aniso.sum().item() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("size", [7, 6])
def test_isotropic_kernel_formula(size: int) -> None:
    r = np.arange(size) - (size - 1) / 2
    expected = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 2.0))
    expected /= expected.sum()
    got = isotropic_gaussian_kernel(size, 2.0, dtype=torch.float64).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)


def test_anisotropic_with_equal_variances_is_isotropic() -> None:
    a = anisotropic_gaussian_kernel(9, 1.7, 1.7, 1.1, dtype=torch.float64)
    b = isotropic_gaussian_kernel(9, 1.7, dtype=torch.float64)
    assert torch.allclose(a, b, atol=1e-15)


@pytest.mark.parametrize(("lambda1", "lambda2", "theta"),
                         [(4.0, 1.0, 0.0), (6.0, 1.5, math.pi / 6), (3.0, 2.0, 2.0)])
def test_anisotropic_covariance(lambda1: float, lambda2: float, theta: float) -> None:
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    sigma = rot @ np.diag([lambda1, lambda2]) @ rot.T
    got = _covariance(anisotropic_gaussian_kernel(41, lambda1, lambda2, theta,
                                                  dtype=torch.float64))
    np.testing.assert_allclose(got, sigma, rtol=0, atol=0.02 * lambda1)


def test_theta_direction_convention() -> None:
    # theta = pi/2 turns the long axis from +x (along rows) to +y (down the columns).
    k = anisotropic_gaussian_kernel(21, 4.0, 0.5, math.pi / 2)
    assert k[:, 10].sum() > 2 * k[10, :].sum()
    cov = _covariance(k)
    assert cov[1, 1] == pytest.approx(4.0, rel=1e-3) and cov[0, 0] == pytest.approx(0.5, rel=1e-2)


def test_anisotropic_sampler_statistics() -> None:
    g = torch.Generator().manual_seed(0)
    lo, hi = 1.0, 2.5 * 2
    lambdas, thetas = [], []
    for _ in range(400):
        k = sample_anisotropic_kernel(25, 2, g, dtype=torch.float64)
        assert k.sum().item() == pytest.approx(1.0, abs=1e-12)
        eigvals, eigvecs = np.linalg.eigh(_covariance(k))
        small, large = eigvals
        lambdas.append((large, small))
        if large > 1.2 * small:  # the axis of a near-circular kernel is meaningless
            vx, vy = eigvecs[:, 1]
            thetas.append(math.atan2(vy, vx) % math.pi)
    l1 = np.array([p[0] for p in lambdas])
    l2 = np.array([p[1] for p in lambdas])
    tol = 0.02
    assert l1.min() >= lo * (1 - tol) and l1.max() <= hi * (1 + tol)
    assert l2.min() >= lo * (1 - tol) and (l2 <= l1 * (1 + tol)).all()
    # lambda1 is uniform on [1, 5], lambda2 uniform below it: means 3 and 2.
    assert l1.mean() == pytest.approx(3.0, abs=0.25)
    assert l2.mean() == pytest.approx(2.0, abs=0.25)
    t = np.array(thetas)
    assert len(t) > 250
    assert t.mean() == pytest.approx(math.pi / 2, abs=0.2)
    assert 0.35 < (t < math.pi / 2).mean() < 0.65


def test_sampler_respects_explicit_lambda_range() -> None:
    g = torch.Generator().manual_seed(1)
    for _ in range(50):
        k = sample_anisotropic_kernel(21, 4, g, lambda_min=0.5, lambda_max=2.0,
                                      dtype=torch.float64)
        eigvals = np.linalg.eigvalsh(_covariance(k))
        assert eigvals.min() > 0.5 * 0.97 and eigvals.max() < 2.0 * 1.02
    with pytest.raises(ValueError):
        sample_anisotropic_kernel(21, 4, g, lambda_min=3.0, lambda_max=2.0)


def test_isotropic_sampler_range() -> None:
    g = torch.Generator().manual_seed(2)
    variances = [_covariance(sample_isotropic_kernel(25, g, 0.5, 3.0, dtype=torch.float64))[0, 0]
                 for _ in range(100)]
    assert min(variances) > 0.5 * 0.97 and max(variances) < 3.0 * 1.02
    assert max(variances) - min(variances) > 1.5


def test_samplers_are_deterministic() -> None:
    def draw(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        return sample_anisotropic_kernel(15, 3, g), sample_isotropic_kernel(15, g, 0.5, 4.0)

    a, b, c = draw(7), draw(7), draw(8)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_load_npy_round_trip(tmp_path: Path) -> None:
    raw = np.abs(np.random.default_rng(0).normal(size=(9, 9))) * 3.0
    np.save(tmp_path / "k.npy", raw)
    k = load_kernel(tmp_path / "k.npy", dtype=torch.float64)
    np.testing.assert_allclose(k.numpy(), raw / raw.sum(), rtol=0, atol=1e-15)
    assert load_kernel(str(tmp_path / "k.npy")).dtype == torch.float32


def test_load_mat_round_trip(tmp_path: Path) -> None:
    scipy_io = pytest.importorskip("scipy.io")
    raw = isotropic_gaussian_kernel(13, 2.0, dtype=torch.float64).numpy() * 5.0
    scipy_io.savemat(tmp_path / "named.mat", {"Kernel": raw, "extra": np.ones((3, 3))})
    scipy_io.savemat(tmp_path / "single.mat", {"k_gt": raw, "sf": 4})
    for name in ("named.mat", "single.mat"):
        k = load_kernel(tmp_path / name, dtype=torch.float64)
        np.testing.assert_allclose(k.numpy(), raw / raw.sum(), rtol=0, atol=1e-15)
    scipy_io.savemat(tmp_path / "two.mat", {"a": raw, "b": raw})
    with pytest.raises(ValueError, match=r"two\.mat.*\['a', 'b'\]"):
        load_kernel(tmp_path / "two.mat")


def test_load_rejects_bad_kernels(tmp_path: Path) -> None:
    np.save(tmp_path / "neg.npy", np.array([[0.5, -0.1], [0.3, 0.3]]))
    np.save(tmp_path / "cube.npy", np.ones((2, 3, 3)))
    np.save(tmp_path / "zero.npy", np.zeros((3, 3)))
    (tmp_path / "k.png").write_bytes(b"")
    for name, pattern in [("neg.npy", "negative"), ("cube.npy", "2-D"), ("zero.npy", "zero"),
                          ("k.png", "unsupported")]:
        with pytest.raises(ValueError, match=pattern) as info:
            load_kernel(tmp_path / name)
        assert name in str(info.value)


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        isotropic_gaussian_kernel(0, 1.0)
    with pytest.raises(ValueError):
        isotropic_gaussian_kernel(5, 0.0)
    with pytest.raises(ValueError):
        anisotropic_gaussian_kernel(5, 1.0, -1.0, 0.0)
