"""Gaussian blur kernels: construction, random sampling and loading from disk.

Coordinates: ``x`` runs along columns (to the right) and ``y`` along rows
(downwards); a kernel of size ``k`` is evaluated at integer offsets from its
centre ``(k - 1) / 2``, so even sizes are centred between pixels.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from torch import Tensor

from restorefw import DataError
from restorefw.data import KERNEL_EXTENSIONS, read_kernel

__all__ = [
    "anisotropic_gaussian_kernel",
    "isotropic_gaussian_kernel",
    "load_kernel",
    "sample_anisotropic_kernel",
    "sample_isotropic_kernel",
]


def _offsets(size: int) -> tuple[Tensor, Tensor]:
    """Float64 ``(x, y)`` offset grids of a ``size x size`` kernel from its centre."""
    if size < 1:
        raise ValueError(f"kernel size must be >= 1, got {size}")
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    return x, y


def _normalised(kernel: Tensor, dtype: torch.dtype) -> Tensor:
    return (kernel / kernel.sum()).to(dtype)


def isotropic_gaussian_kernel(
    size: int, variance: float, *, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Isotropic Gaussian ``exp(-(x**2 + y**2) / (2 * variance))``, summing to 1.

    Args:
        size: kernel side length.
        variance: variance (sigma squared) in pixels squared, ``> 0``.
        dtype: dtype of the result.

    Returns:
        ``(size, size)`` kernel on the CPU.

    Raises:
        ValueError: on a non-positive size or variance.
    """
    if not variance > 0:
        raise ValueError(f"variance must be > 0, got {variance}")
    x, y = _offsets(size)
    return _normalised(torch.exp(-(x * x + y * y) / (2.0 * variance)), dtype)


def anisotropic_gaussian_kernel(
    size: int, lambda1: float, lambda2: float, theta: float, *, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Anisotropic Gaussian with covariance ``R(theta) diag(lambda1, lambda2) R(theta)^T``.

    Args:
        size: kernel side length.
        lambda1: variance along the first principal axis, ``> 0``.
        lambda2: variance along the second principal axis, ``> 0``.
        theta: angle of the first axis in radians, from ``+x`` towards ``+y``
            (clockwise as displayed, since rows grow downwards).
        dtype: dtype of the result.

    Returns:
        ``(size, size)`` kernel on the CPU, summing to 1.

    Raises:
        ValueError: on a non-positive size or variance.
    """
    if not (lambda1 > 0 and lambda2 > 0):
        raise ValueError(f"variances must be > 0, got lambda1={lambda1}, lambda2={lambda2}")
    c, s = math.cos(theta), math.sin(theta)
    # Inverse covariance R diag(1/l1, 1/l2) R^T, written out element by element.
    a = c * c / lambda1 + s * s / lambda2
    b = c * s * (1.0 / lambda1 - 1.0 / lambda2)
    d = s * s / lambda1 + c * c / lambda2
    x, y = _offsets(size)
    quad = a * x * x + 2.0 * b * x * y + d * y * y
    return _normalised(torch.exp(-0.5 * quad), dtype)


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    """One draw from U[low, high) using only ``generator``."""
    u = torch.rand((), generator=generator, dtype=torch.float64, device=generator.device)
    return low + (high - low) * float(u)


def sample_anisotropic_kernel(
    size: int,
    scale: float,
    generator: torch.Generator,
    lambda_min: float = 1.0,
    lambda_max: float | None = None,
    *,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Random anisotropic Gaussian kernel from the MZSR family.

    Draws ``theta ~ U[0, pi)``, ``lambda1 ~ U[lambda_min, lambda_max]`` and
    ``lambda2 ~ U[lambda_min, lambda1]``, in that order, so the first axis is
    always the longer one.

    Args:
        size: kernel side length.
        scale: super-resolution factor; sets ``lambda_max`` to ``2.5 * scale``
            when it is not given, since wider blurs suit larger factors.
        generator: source of randomness.
        lambda_min: smallest variance.
        lambda_max: largest variance; defaults to ``2.5 * scale``.
        dtype: dtype of the result.

    Returns:
        ``(size, size)`` kernel on the CPU, summing to 1.

    Raises:
        ValueError: if the variance range is empty or not positive.
    """
    high = 2.5 * scale if lambda_max is None else lambda_max
    if not 0 < lambda_min <= high:
        raise ValueError(f"need 0 < lambda_min <= lambda_max, got {lambda_min} and {high}")
    theta = _uniform(generator, 0.0, math.pi)
    lambda1 = _uniform(generator, lambda_min, high)
    lambda2 = _uniform(generator, lambda_min, lambda1)
    return anisotropic_gaussian_kernel(size, lambda1, lambda2, theta, dtype=dtype)


def sample_isotropic_kernel(
    size: int,
    generator: torch.Generator,
    variance_min: float,
    variance_max: float,
    *,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Random isotropic Gaussian kernel with variance ``~ U[variance_min, variance_max]``.

    Args:
        size: kernel side length.
        generator: source of randomness.
        variance_min: smallest variance, ``> 0``.
        variance_max: largest variance.
        dtype: dtype of the result.

    Returns:
        ``(size, size)`` kernel on the CPU, summing to 1.

    Raises:
        ValueError: if the variance range is empty or not positive.
    """
    if not 0 < variance_min <= variance_max:
        raise ValueError(
            f"need 0 < variance_min <= variance_max, got {variance_min} and {variance_max}"
        )
    variance = _uniform(generator, variance_min, variance_max)
    return isotropic_gaussian_kernel(size, variance, dtype=dtype)


def load_kernel(path: str | os.PathLike[str], *, dtype: torch.dtype = torch.float32) -> Tensor:
    """Read a blur kernel from ``.npy`` or ``.mat`` and normalise it to sum 1.

    The file is read by :func:`restorefw.data.read_kernel`; this keeps the
    plugin's exception types for its callers.

    Args:
        path: kernel file.
        dtype: dtype of the result.

    Returns:
        ``(kh, kw)`` kernel on the CPU.

    Raises:
        ValueError: on an unknown extension, a ``.mat`` file without a single
            recognisable kernel, or a kernel that is not 2-D, not finite, has a
            negative entry or sums to zero; the message names the file.
        FileNotFoundError: if the file does not exist.
    """
    file = Path(path)
    if file.suffix.lower() in KERNEL_EXTENSIONS and not file.exists():
        raise FileNotFoundError(f"{file}: no such kernel file")
    try:
        return read_kernel(file, dtype=dtype)
    except DataError as error:
        raise ValueError(str(error)) from error
