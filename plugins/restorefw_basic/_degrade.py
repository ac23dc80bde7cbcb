"""Synthetic degradations: Gaussian noise, blur, subsampling and rain streaks.

Every random draw comes from the ``torch.Generator`` passed in, on the
generator's own device, and is then moved to the images' device; a CPU
generator therefore gives the same degradation whether the images live on the
CPU or a GPU, and the global RNG is never touched.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from restorefw_basic._kernels import isotropic_gaussian_kernel

__all__ = ["add_gaussian_noise", "blur", "rain_streaks", "sample_sigma", "subsample"]

# Variance of the smoothing that softens the hard edges of rasterised streaks.
_STREAK_SMOOTHING_VARIANCE = 0.36


def _check_images(x: Tensor, name: str) -> None:
    """Raise unless ``x`` is a float ``(B, C, H, W)`` tensor."""
    if x.dim() != 4:
        raise ValueError(f"{name} expects images (B, C, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} expects a floating-point tensor, got {x.dtype}")


def _rand(shape: tuple[int, ...], generator: torch.Generator, like: Tensor) -> Tensor:
    """U[0, 1) draws on the generator's device, moved to ``like``'s device and dtype."""
    u = torch.rand(shape, generator=generator, dtype=like.dtype, device=generator.device)
    return u.to(like.device)


def add_gaussian_noise(
    x: Tensor, sigma: float | Tensor, generator: torch.Generator, clip: bool = False
) -> Tensor:
    """Add white Gaussian noise with standard deviation ``sigma / 255``.

    The result is not clipped by default: the denoising test protocols of
    Restormer and its predecessors add noise to [0, 1] images and keep the
    out-of-range values.

    Args:
        x: float images in [0, 1], ``(B, ...)``.
        sigma: noise level on the [0, 255] scale; a float, a 0-d tensor, or a
            ``(B,)`` tensor giving one level per image.
        generator: source of randomness.
        clip: clamp the result to [0, 1].

    Returns:
        Noisy images, same shape, dtype and device as ``x``.

    Raises:
        ValueError: on a negative sigma or a per-image sigma of the wrong length.
        TypeError: if ``x`` is not a floating-point tensor.
    """
    if not x.is_floating_point():
        raise TypeError(f"add_gaussian_noise expects a floating-point tensor, got {x.dtype}")
    if isinstance(sigma, Tensor):
        level = sigma.to(device=x.device, dtype=x.dtype)
        if level.dim() == 1 and level.shape[0] == x.shape[0]:
            level = level.view(-1, *([1] * (x.dim() - 1)))
        elif level.dim() != 0:
            raise ValueError(
                f"per-image sigma must have shape {tuple(x.shape[:1])}, got {tuple(level.shape)}"
            )
        if (level < 0).any():
            raise ValueError("sigma must be >= 0")
    else:
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        level = torch.tensor(float(sigma), dtype=x.dtype, device=x.device)
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=generator.device)
    noisy = x + noise.to(x.device) * (level / 255.0)
    return noisy.clamp(0.0, 1.0) if clip else noisy


def sample_sigma(
    batch: int,
    low: float,
    high: float,
    generator: torch.Generator,
    *,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Per-image noise levels ``~ U[low, high]`` on the [0, 255] scale.

    Returns:
        ``(batch,)`` tensor of ``dtype`` on the generator's device.

    Raises:
        ValueError: if ``0 <= low <= high`` does not hold.
    """
    if not 0 <= low <= high:
        raise ValueError(f"need 0 <= low <= high, got {low} and {high}")
    u = torch.rand((batch,), generator=generator, dtype=dtype, device=generator.device)
    return low + (high - low) * u


def blur(x: Tensor, kernel: Tensor) -> Tensor:
    """Convolve every channel with a blur kernel, keeping the image size.

    This is a true convolution (the kernel is flipped), so it equals
    ``scipy.ndimage.convolve(image, kernel, mode='mirror')`` channel by channel;
    torch's 'reflect' padding is scipy's 'mirror' (``c b | a b c | b a``, edge
    not repeated). A kernel of size ``k`` is anchored at index ``k // 2``, which
    for even sizes shifts the output by half a pixel towards the top left.

    Args:
        x: float images, ``(B, C, H, W)``.
        kernel: ``(kh, kw)`` shared by all images, or ``(B, kh, kw)`` one per image.

    Returns:
        Blurred images, same shape, dtype and device as ``x``.

    Raises:
        ValueError: on bad shapes, or a kernel too large for reflect padding
            (more than about twice the image size).
        TypeError: if ``x`` is not a floating-point tensor.
    """
    _check_images(x, "blur")
    batch, channels, height, width = x.shape
    if kernel.dim() == 2:
        kernel = kernel.expand(batch, *kernel.shape)
    elif kernel.dim() != 3 or kernel.shape[0] != batch:
        raise ValueError(
            f"blur kernel must be (kh, kw) or ({batch}, kh, kw), got {tuple(kernel.shape)}"
        )
    kh, kw = kernel.shape[-2:]
    top, left = (kh - 1) // 2, (kw - 1) // 2
    bottom, right = kh - 1 - top, kw - 1 - left
    if max(top, bottom) >= height or max(left, right) >= width:
        raise ValueError(
            f"blur kernel {kh}x{kw} is too large for reflect padding of a {height}x{width} image"
        )
    weight = kernel.to(device=x.device, dtype=x.dtype).flip(-1, -2)
    weight = weight.repeat_interleave(channels, dim=0).unsqueeze(1)
    # Folding the batch into channels lets one grouped convolution apply per-image kernels.
    padded = F.pad(x.reshape(1, batch * channels, height, width), (left, right, top, bottom),
                   mode="reflect")
    return F.conv2d(padded, weight, groups=batch * channels).view(batch, channels, height, width)


def subsample(x: Tensor, scale: int) -> Tensor:
    """Keep every ``scale``-th pixel, starting with the top-left one.

    This is the direct subsampling of MZSR and KernelGAN: low-resolution pixel
    ``(i, j)`` is high-resolution pixel ``(scale * i, scale * j)``, so the grid
    sits ``(scale - 1) / 2`` pixels up and left of the block centres that
    bicubic downscaling samples. Output size is ``ceil(H / scale)``.

    Returns:
        A view of ``x`` (``(..., H, W)``) with every ``scale``-th row and column.

    Raises:
        ValueError: if ``scale`` is not a positive integer.
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"subsample scale must be a positive integer, got {scale!r}")
    return x[..., ::scale, ::scale]


def _streak_kernels(lengths: Tensor, angles: Tensor, width: int, smooth: bool) -> Tensor:
    """One line kernel per image, peak value 1, ``(B, k, k)`` with odd ``k``.

    A pixel's weight falls off linearly over one pixel beyond the line's half
    width and half length, which anti-aliases the rasterised line.
    """
    # One pixel for the anti-aliased fall-off, one for the 3x3 smoothing.
    reach = float(lengths.max()) / 2 + width / 2 + 2
    size = 2 * math.ceil(reach) + 1
    r = torch.arange(size, dtype=angles.dtype, device=angles.device) - size // 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    dy, dx = torch.cos(angles).view(-1, 1, 1), torch.sin(angles).view(-1, 1, 1)
    along = (y * dy + x * dx).abs()
    across = (x * dy - y * dx).abs()
    half_length = lengths.view(-1, 1, 1) / 2
    kernels = (width / 2 + 0.5 - across).clamp(0, 1) * (half_length + 0.5 - along).clamp(0, 1)
    if smooth:
        gauss = isotropic_gaussian_kernel(3, _STREAK_SMOOTHING_VARIANCE, dtype=kernels.dtype)
        kernels = F.conv2d(kernels.unsqueeze(1), gauss.to(kernels.device).view(1, 1, 3, 3),
                           padding=1).squeeze(1)
    # Rescale so a streak's brightest pixel equals its seed's intensity.
    return kernels / kernels.amax(dim=(-2, -1), keepdim=True)


def rain_streaks(
    x: Tensor,
    generator: torch.Generator,
    density: float = 0.02,
    length: tuple[int, int] = (10, 25),
    angle: tuple[float, float] = (-20, 20),
    width: int = 1,
    intensity: tuple[float, float] = (0.6, 1.0),
    blur: bool = True,
) -> Tensor:
    """Overlay synthetic rain streaks.

    Each image gets sparse random seeds (probability ``density`` per pixel, each
    with a brightness ``~ U[intensity]``), which one line kernel per image
    smears into streaks of a random length and angle. The grey rain layer ``r``
    is screen-blended, ``1 - (1 - x) * (1 - r)``, so rain only brightens, and
    the result is clipped to [0, 1].

    Args:
        x: float images in [0, 1], ``(B, C, H, W)``.
        generator: source of randomness.
        density: fraction of pixels that start a streak, in [0, 1].
        length: inclusive range of streak lengths in pixels, drawn per image.
        angle: range of streak angles in degrees from vertical, drawn per image;
            positive angles move the lower end to the right.
        width: streak width in pixels.
        intensity: range of streak brightness, within [0, 1].
        blur: soften the streaks with a small Gaussian.

    Returns:
        Rainy images, same shape, dtype and device as ``x``.

    Raises:
        ValueError: on out-of-range parameters or a bad image shape.
        TypeError: if ``x`` is not a floating-point tensor.
    """
    _check_images(x, "rain_streaks")
    if not 0 <= density <= 1:
        raise ValueError(f"density must be in [0, 1], got {density}")
    if not 1 <= length[0] <= length[1]:
        raise ValueError(f"length must satisfy 1 <= low <= high, got {length}")
    if not angle[0] <= angle[1]:
        raise ValueError(f"angle range must satisfy low <= high, got {angle}")
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    if not 0 <= intensity[0] <= intensity[1] <= 1:
        raise ValueError(f"intensity must satisfy 0 <= low <= high <= 1, got {intensity}")

    batch, _, height, width_px = x.shape
    angles = angle[0] + (angle[1] - angle[0]) * _rand((batch,), generator, x)
    lengths = torch.randint(length[0], length[1] + 1, (batch,), generator=generator,
                            device=generator.device).to(device=x.device, dtype=x.dtype)
    seeds = (_rand((batch, 1, height, width_px), generator, x) < density).to(x.dtype)
    brightness = intensity[0] + (intensity[1] - intensity[0]) * _rand(
        (batch, 1, height, width_px), generator, x
    )

    kernels = _streak_kernels(lengths, torch.deg2rad(angles), width, blur)
    # Line kernels are point-symmetric, so correlation equals convolution here.
    # Zero padding: streaks simply leave the frame.
    rain = F.conv2d((seeds * brightness).view(1, batch, height, width_px), kernels.unsqueeze(1),
                    padding=kernels.shape[-1] // 2, groups=batch)
    rain = rain.view(batch, 1, height, width_px).clamp(0.0, 1.0)
    # Screen blend 1 - (1 - x)(1 - r), rearranged so that no rain leaves x bit-exact.
    return (x + rain * (1.0 - x)).clamp(0.0, 1.0)
