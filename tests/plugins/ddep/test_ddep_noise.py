"""The noise level, its σ/γ parametrisations, the ε target and the strategy's config."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from torch import Tensor, nn

from restorefw import RecipeError
from restorefw.engine import Batch
from restorefw_ddep import NoiseLevel, build_dep, gamma_to_sigma, sigma_to_gamma, to_signed_range


@pytest.mark.parametrize("form", ["scaled", "simple"])
def test_noisy_std_matches_the_formula(form: str) -> None:
    generator = torch.Generator().manual_seed(0)
    clean = to_signed_range(torch.rand(4, 3, 256, 256, generator=generator))
    level = NoiseLevel(0.22, form)
    noisy, eps = level.corrupt(clean, generator)
    signal_var = float(clean.var())
    if form == "scaled":
        expected = math.sqrt((signal_var + 0.22**2) / (1 + 0.22**2))
    else:
        expected = math.sqrt(signal_var + 0.22**2)
    assert abs(float(noisy.std()) / expected - 1) < 0.01
    assert abs(level.expected_std(signal_var) / expected - 1) < 1e-9
    assert abs(float(eps.std()) - 1) < 0.01


def test_gamma_and_sigma_parametrisations_agree() -> None:
    assert sigma_to_gamma(0.22) == pytest.approx(1 / (1 + 0.22**2))
    assert gamma_to_sigma(sigma_to_gamma(0.8)) == pytest.approx(0.8)
    by_sigma, by_gamma = NoiseLevel(0.22), NoiseLevel.from_gamma(1 / (1 + 0.22**2))
    clean, eps = torch.rand(2, 3, 8, 8) * 2 - 1, torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(by_sigma.apply(clean, eps), by_gamma.apply(clean, eps))
    gamma = by_sigma.gamma
    torch.testing.assert_close(by_sigma.apply(clean, eps), math.sqrt(gamma) * clean + math.sqrt(1 - gamma) * eps)


class Oracle(nn.Module):
    """Knows the clean batch, so it can recover ε exactly from the noisy input."""

    def __init__(self, clean: Tensor, level: NoiseLevel, residual: bool) -> None:
        super().__init__()
        self.clean, self.level, self.global_residual = clean, level, residual

    def forward(self, noisy: Tensor) -> Tensor:
        eps = (noisy - self.level.signal_weight * self.clean) / self.level.noise_weight
        return noisy - self.level.noise_weight * eps if self.global_residual else eps


@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("form", ["scaled", "simple"])
def test_a_perfect_noise_predictor_has_zero_loss(residual: bool, form: str) -> None:
    clean = torch.rand(2, 3, 16, 16)
    strategy = build_dep(sigma=0.22, noise=form)
    oracle = Oracle(to_signed_range(clean), strategy.noise, residual)
    strategy.prepare(oracle, "dep")  # reads the oracle's global_residual
    ctx = SimpleNamespace(generator=torch.Generator().manual_seed(1))
    loss, _ = strategy.compute_loss(oracle, Batch(clean, clean), ctx)
    assert float(loss) < 1e-10
    # A network that predicts zero noise scores the variance of ε, about 1.
    zero = build_dep(sigma=0.22, residual=False)
    loss, _ = zero.compute_loss(lambda x: torch.zeros_like(x), Batch(clean, clean), ctx)
    assert 0.8 < float(loss) < 1.2


def test_noise_level_is_required_once(registry) -> None:
    with pytest.raises(RecipeError, match="sigma is required.*0.22"):
        registry.resolve("strategy", {"type": "ddep"}, "stages[1].strategy")
    resolved = registry.resolve("strategy", {"type": "ddep", "gamma": 0.95}, "s")
    assert resolved["sigma"] == pytest.approx(gamma_to_sigma(0.95))
    assert registry.resolve("strategy", resolved, "s") == resolved  # a resolved recipe validates again
    with pytest.raises(RecipeError, match="disagree"):
        registry.resolve("strategy", {"type": "dep", "sigma": 0.22, "gamma": 0.5}, "s")
    built = registry.create("strategy", {"type": "ddep", "gamma": 0.95})
    assert built.noise.gamma == pytest.approx(0.95) and built.uses_loss is False
    assert built.uses_degradation is False
