"""Restormer in reduced precision on the CPU: every path runs and stays within its stated tolerance.

Bounds are about three times what a tiny random model gives on 24² inputs (measured: bf16 max 3.8e-3,
mean 6.1e-4; fp16 max 3.9e-4, mean 7.4e-5), for outputs whose residual reaches 0.36.
"""

from __future__ import annotations

import pytest
import torch

import restorefw
from restorefw.engine import autocast, restore_image

TINY = {"dim": 8, "num_blocks": [1, 1, 1, 1], "heads": [1, 1, 2, 2], "num_refinement_blocks": 1}
BOUNDS = {"bf16": (0.015, 2e-3), "fp16": (2e-3, 3e-4)}
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return restorefw.create("model", "restormer", **TINY).eval()


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_forward_stays_within_bounds(model, precision_gap, precision: str) -> None:
    worst, mean = precision_gap(model, torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1)), precision)
    assert worst <= BOUNDS[precision][0] and mean <= BOUNDS[precision][1]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_exact_tiling_under_autocast_stays_within_bounds(model, precision: str) -> None:
    """The streamed forward sums MDTA's statistics in fp32 whatever the autocast dtype."""
    x = torch.rand(1, 3, 32, 24, generator=torch.Generator().manual_seed(2))
    expected = restore_image(model, x, CPU)
    tiled = restore_image(model, x, CPU, precision=precision, tile=16)
    assert (tiled - expected).abs().max().item() <= BOUNDS[precision][0]


def test_bf16_training_step_gives_close_loss_and_finite_gradients(model) -> None:
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    losses = {}
    for precision in ("fp32", "bf16"):
        model.zero_grad()
        with autocast(CPU, precision):
            loss = (model.train()(x).float() - x).abs().mean()
        loss.backward()
        losses[precision] = loss.item()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    model.eval()
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=2e-2)
