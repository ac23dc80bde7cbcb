"""The supervised-contrastive term of IPT pretraining."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from restorefw_ipt import supcon_loss


def _reference(features: torch.Tensor, tau: float) -> torch.Tensor:
    """Term-by-term definition: tokens of one image are positives, every other token is in the denominator."""
    b, n, _ = features.shape
    z = F.normalize(features.reshape(b * n, -1), dim=1)
    total = features.new_zeros(())
    for i in range(b * n):
        others = [a for a in range(b * n) if a != i]
        denominator = sum(torch.exp(z[i] @ z[a] / tau) for a in others)
        positives = [p for p in others if p // n == i // n]
        total = total - sum(torch.log(torch.exp(z[i] @ z[p] / tau) / denominator) for p in positives) / len(positives)
    return total / (b * n)


def test_value_and_gradient_match_the_definition() -> None:
    torch.manual_seed(0)
    features = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    loss = supcon_loss(features, temperature=0.5, base_temperature=0.5)
    expected = _reference(features, 0.5)
    assert torch.allclose(loss, expected, atol=1e-10)
    grad, = torch.autograd.grad(loss, features)
    expected_grad, = torch.autograd.grad(expected, features)
    assert torch.allclose(grad, expected_grad, atol=1e-10)
    assert torch.autograd.gradcheck(lambda f: supcon_loss(f, 0.5, 0.5), (features,))


def test_hand_made_value() -> None:
    # Two images, two identical tokens each, the images orthogonal: each anchor sees its twin
    # (cosine 1) and two orthogonal tokens (cosine 0) in the denominator.
    features = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    tau = 0.5
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 2))
    assert supcon_loss(features, tau, tau) == pytest.approx(expected, rel=1e-5)


def test_identical_positives_score_lower_than_shuffled_tokens() -> None:
    torch.manual_seed(0)
    images = torch.randn(4, 1, 16).expand(4, 8, 16) + 0.05 * torch.randn(4, 8, 16)
    shuffled = images.reshape(32, 16)[torch.randperm(32)].reshape(4, 8, 16)
    assert supcon_loss(images) < supcon_loss(shuffled) - 1.0


def test_scaled_by_temperature_ratio_and_needs_two_tokens() -> None:
    features = torch.randn(2, 3, 4)
    assert torch.allclose(supcon_loss(features, 0.1, 0.2), 0.5 * supcon_loss(features, 0.1, 0.1))
    with pytest.raises(ValueError, match="at least 2 tokens"):
        supcon_loss(torch.randn(2, 1, 4))
