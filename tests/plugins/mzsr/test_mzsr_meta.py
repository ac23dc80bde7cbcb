"""Meta-gradients, multi-step loss weights and the meta_transfer strategy."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import restorefw
from restorefw.engine import Batch, StepContext
from restorefw_mzsr._meta import default_forward, multi_step_loss_weights, task_losses


def _meta_grad(model: nn.Module, support: tuple, query: tuple, steps: int, lr: float,
               first_order: bool) -> list[torch.Tensor]:
    params = dict(model.named_parameters())
    loss, _, _ = task_losses(default_forward(model), params, support, query, F.mse_loss, steps, lr, first_order)
    return list(torch.autograd.grad(loss, list(params.values())))


def test_one_step_meta_gradient_closed_form() -> None:
    # f(x) = w x with MSE: support gradient 2(w a - b); w' = w - 2 alpha (w a - b);
    # dL_q/dw' = 2 (w' c - d) and dw'/dw = 1 - 2 alpha a.
    gen = torch.Generator().manual_seed(0)
    xs, ys = torch.randn(4, 1, 3, 3, generator=gen, dtype=torch.float64), torch.randn(4, 1, 3, 3, generator=gen,
                                                                                        dtype=torch.float64)
    xq, yq = torch.randn(4, 1, 3, 3, generator=gen, dtype=torch.float64), torch.randn(4, 1, 3, 3, generator=gen,
                                                                                        dtype=torch.float64)
    model = nn.Conv2d(1, 1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.fill_(0.7)
    alpha, w = 0.3, 0.7
    a, b = float((xs * xs).mean()), float((xs * ys).mean())
    c, d = float((xq * xq).mean()), float((xq * yq).mean())
    w1 = w - alpha * 2 * (w * a - b)
    first = 2 * (w1 * c - d)
    second = first * (1 - 2 * alpha * a)
    g_second = _meta_grad(model, (xs, ys), (xq, yq), 1, alpha, first_order=False)[0]
    g_first = _meta_grad(model, (xs, ys), (xq, yq), 1, alpha, first_order=True)[0]
    assert float(g_second) == pytest.approx(second, rel=1e-10)
    assert float(g_first) == pytest.approx(first, rel=1e-10)
    assert abs(second - first) > 1e-3


@pytest.mark.parametrize("steps", [1, 2])
def test_second_order_meta_gradient_matches_finite_differences(steps: int) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Tanh(), nn.Conv2d(1, 1, 1)).double()
    gen = torch.Generator().manual_seed(1)
    support = (torch.randn(2, 1, 5, 5, generator=gen, dtype=torch.float64),
               torch.randn(2, 1, 5, 5, generator=gen, dtype=torch.float64))
    query = (torch.randn(2, 1, 5, 5, generator=gen, dtype=torch.float64),
             torch.randn(2, 1, 5, 5, generator=gen, dtype=torch.float64))
    alpha = 0.2
    analytic = torch.cat([g.flatten() for g in _meta_grad(model, support, query, steps, alpha, False)])
    first = torch.cat([g.flatten() for g in _meta_grad(model, support, query, steps, alpha, True)])
    base = {n: p.detach().clone() for n, p in model.named_parameters()}

    def outer(flat: torch.Tensor) -> float:
        params, offset = {}, 0
        for name, value in base.items():
            params[name] = flat[offset:offset + value.numel()].view_as(value).requires_grad_(True)
            offset += value.numel()
        loss, _, _ = task_losses(default_forward(model), params, support, query, F.mse_loss, steps, alpha, False)
        return float(loss.detach())

    flat = torch.cat([v.flatten() for v in base.values()])
    eps = 1e-6
    numeric = torch.stack([
        torch.tensor((outer(flat + eps * e) - outer(flat - eps * e)) / (2 * eps), dtype=torch.float64)
        for e in torch.eye(flat.numel(), dtype=torch.float64)
    ])
    torch.testing.assert_close(analytic, numeric, rtol=1e-5, atol=1e-7)
    assert (analytic - first).abs().max() > 1e-4


def test_multi_step_loss_weights_sum_to_one_and_anneal() -> None:
    assert multi_step_loss_weights(5, 0) == pytest.approx([0.2] * 5)
    previous = multi_step_loss_weights(5, 0)
    for step in range(0, 5000, 250):
        weights = multi_step_loss_weights(5, step)
        assert sum(weights) == pytest.approx(1.0)
        assert weights[-1] >= previous[-1] and all(w <= p + 1e-12 for w, p in zip(weights[:-1], previous[:-1]))
        previous = weights
    assert multi_step_loss_weights(5, 3300) == pytest.approx([0.006] * 4 + [0.976])
    assert multi_step_loss_weights(5, 10**6) == pytest.approx([0.006] * 4 + [0.976])
    assert multi_step_loss_weights(1, 100) == [1.0]


def _context(model: nn.Module, registry: restorefw.Registry) -> StepContext:
    optimizer = registry.create("optimizer", "adam", lr=3e-3)(model.parameters())
    return StepContext(model=model, loss_fn=registry.create("loss", "l1"), optimizer=optimizer,
                       scheduler=registry.create("scheduler", "constant")(optimizer, 100),
                       task=registry.create("task", "sr", scale=2), device=torch.device("cpu"), precision="fp32",
                       stage="meta")


@pytest.mark.parametrize("first_order", [False, True])
def test_meta_transfer_lowers_query_loss_on_a_fixed_batch(registry: restorefw.Registry, first_order: bool) -> None:
    torch.manual_seed(0)
    model = registry.create("model", "mzsr", channels=8, layers=3)
    strategy = registry.create("strategy", "meta_transfer", meta_batch_size=2, support_size=2, query_size=2,
                               inner_steps=2, first_order=first_order)
    ctx = _context(model, registry)
    hr = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    losses = []
    for step in range(6):
        ctx.step, ctx.generator = step, torch.Generator().manual_seed(123)  # the same kernels every step
        logs = strategy.train_step(ctx, Batch(lq=hr[..., ::2, ::2], target=hr))
        losses.append(logs["loss"])
    assert losses[-1] < losses[0]
    assert set(logs) >= {"loss", "support_loss_pre", "query_loss_post"}


def test_meta_transfer_rejects_small_batches(registry: restorefw.Registry) -> None:
    model = registry.create("model", "mzsr", channels=4, layers=2)
    strategy = registry.create("strategy", "meta_transfer")
    with pytest.raises(restorefw.RunError, match="batch_size >= "):
        batch = Batch(lq=torch.rand(4, 3, 8, 8), target=torch.rand(4, 3, 16, 16))
        strategy.train_step(_context(model, registry), batch)
