"""The single fixed noise level of denoising pretraining.

Images are first mapped from [0, 1] to [-1, 1]; noise is then added in that
range, so ``sigma`` is measured in [-1, 1] units (``sigma = 0.22`` is about
28/255 on the [0, 1] scale).

Two forms are supported:

- ``scaled`` (the default): ``x̃ = (x + σ·ε) / √(1 + σ²)``. Written with
  ``γ = 1 / (1 + σ²)`` this is ``x̃ = √γ·x + √(1 − γ)·ε``, the variance-preserving
  form of diffusion models: a unit-variance signal stays unit-variance.
- ``simple``: ``x̃ = x + σ·ε``.

``gamma`` is only another way to write the noise level: it is converted to
``σ = √((1 − γ) / γ)`` and the chosen form is applied with that σ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

__all__ = ["NoiseForm", "NoiseLevel", "gamma_to_sigma", "sigma_to_gamma", "to_signed_range"]

NoiseForm = Literal["scaled", "simple"]


def sigma_to_gamma(sigma: float) -> float:
    """Signal-variance fraction ``γ = 1 / (1 + σ²)`` of the scaled form."""
    return 1.0 / (1.0 + sigma * sigma)


def gamma_to_sigma(gamma: float) -> float:
    """Noise std ``σ = √((1 − γ) / γ)``, the inverse of :func:`sigma_to_gamma`."""
    return math.sqrt((1.0 - gamma) / gamma)


def to_signed_range(images: Tensor) -> Tensor:
    """Map images from [0, 1] to [-1, 1] (``x * 2 - 1``), the range the noise is defined in."""
    return images * 2.0 - 1.0


@dataclass(frozen=True)
class NoiseLevel:
    """One fixed noise level.

    Attributes:
        sigma: noise std in [-1, 1] image units.
        form: ``"scaled"`` or ``"simple"`` (see the module docstring).
    """

    sigma: float
    form: NoiseForm = "scaled"

    @classmethod
    def from_gamma(cls, gamma: float, form: NoiseForm = "scaled") -> NoiseLevel:
        """The level whose scaled form is ``√γ·x + √(1 − γ)·ε``."""
        return cls(gamma_to_sigma(gamma), form)

    @property
    def gamma(self) -> float:
        """``1 / (1 + σ²)``."""
        return sigma_to_gamma(self.sigma)

    @property
    def signal_weight(self) -> float:
        """Factor on the clean image: ``√γ`` when scaled, 1 when simple."""
        return math.sqrt(self.gamma) if self.form == "scaled" else 1.0

    @property
    def noise_weight(self) -> float:
        """Factor on ε: ``√(1 − γ) = σ·√γ`` when scaled, σ when simple."""
        return self.sigma * self.signal_weight

    def apply(self, clean: Tensor, eps: Tensor) -> Tensor:
        """Noisy images ``signal_weight·clean + noise_weight·eps`` (``clean`` in [-1, 1])."""
        return clean * self.signal_weight + eps * self.noise_weight

    def corrupt(self, clean: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """Draw ε ~ N(0, I) on the CPU from ``generator`` and return ``(noisy, eps)``.

        Drawing on the CPU keeps the noise a function of the generator alone,
        whatever device trains, so resumed runs see the same noise.
        """
        eps = torch.randn(clean.shape, generator=generator, dtype=torch.float32).to(clean.device, clean.dtype)
        return self.apply(clean, eps), eps

    def expected_std(self, signal_var: float) -> float:
        """Std of the noisy image for a clean signal of variance ``signal_var`` (its mean does not matter)."""
        return math.sqrt(self.signal_weight**2 * signal_var + self.noise_weight**2)
