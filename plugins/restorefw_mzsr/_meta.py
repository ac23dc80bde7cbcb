"""MAML building blocks: fast-weight inner loops and the multi-step loss weights.

Kept free of engine types so they can be tested on tiny models and reused by
other meta-learning strategies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

__all__ = ["Forward", "default_forward", "inner_update", "multi_step_loss_weights", "task_losses"]

Params = dict[str, Tensor]
Forward = Callable[[Params, Any], Tensor]
"""``forward(params, inputs) -> prediction`` with the given (fast) weights."""


def default_forward(model: nn.Module) -> Forward:
    """``functional_call(model, params, (inputs,))``: a model run with substituted weights."""
    return lambda params, inputs: functional_call(model, params, (inputs,))


def multi_step_loss_weights(steps: int, step: int, anneal_steps: float = 10000 / 3,
                            floor: float = 0.03) -> list[float]:
    """Importance of the query loss after each inner step (MAML++ multi-step loss).

    Every weight starts at ``1 / T``. Each non-final weight then falls linearly by
    ``1 / (T * anneal_steps)`` per outer step down to ``floor / T``, and the final
    weight rises by ``(T - 1)`` times that rate up to ``1 - (T - 1) * floor / T``,
    so the weights always sum to 1 and reach their end values together after
    ``(1 - floor) * anneal_steps`` steps (3,233 for the defaults, which are those of
    the MZSR code). The released MZSR code never advances its step counter, so it
    actually trains with the uniform start weights; this follows the paper.

    Args:
        steps: inner steps ``T``.
        step: outer (meta) step, from 0.
        anneal_steps: outer steps over which the weights would move by ``1 / T``.
        floor: floor of the non-final weights, times ``1 / T``.

    Returns:
        ``T`` weights, the last one for the query loss after the final inner step.
    """
    if steps < 1:
        raise ValueError(f"need at least one inner step, got {steps}")
    if steps == 1:
        return [1.0]
    rate = step / (steps * anneal_steps)
    low = floor / steps
    others = max(1.0 / steps - rate, low)
    last = min(1.0 / steps + (steps - 1) * rate, 1.0 - (steps - 1) * low)
    return [others] * (steps - 1) + [last]


def inner_update(params: Params, loss: Tensor, lr: float, first_order: bool) -> Params:
    """One plain-SGD step on fast weights: ``w - lr * dloss/dw``.

    With ``first_order`` the gradient is taken as a constant (FOMAML); otherwise
    its graph is kept so the outer gradient includes second-order terms.
    """
    names = list(params)
    grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=not first_order, allow_unused=True)
    return {n: params[n] if g is None else params[n] - lr * g for n, g in zip(names, grads, strict=True)}


def task_losses(
    forward: Forward,
    params: Mapping[str, Tensor],
    support: tuple[Any, Tensor],
    query: tuple[Any, Tensor],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    inner_steps: int,
    inner_lr: float,
    first_order: bool,
    weights: Sequence[float] | None = None,
) -> tuple[Tensor, list[Tensor | None], Tensor]:
    """The meta-objective of one task.

    Runs ``inner_steps`` SGD steps on the support loss from ``params`` and scores
    the query set after each step.

    Args:
        forward: runs the model with given weights (see :func:`default_forward`).
        params: starting weights, usually the model's trainable parameters.
        support: ``(inputs, target)`` the inner loop trains on.
        query: ``(inputs, target)`` the adapted weights are scored on.
        loss_fn: ``loss(pred, target)``, L1 in MZSR.
        inner_steps: number of inner SGD steps ``T``.
        inner_lr: inner step size alpha.
        first_order: drop second-order terms from the meta-gradient.
        weights: importance of the query loss after each step; ``None`` scores
            the last step only. Steps weighted 0 are not evaluated at all.

    Returns:
        ``(weighted query loss, query loss per step or None where skipped,
        support loss before adaptation)``.
    """
    weights = [0.0] * (inner_steps - 1) + [1.0] if weights is None else list(weights)
    if len(weights) != inner_steps or not any(weights):
        raise ValueError(f"need {inner_steps} loss weights, not all zero; got {weights}")
    fast = dict(params)
    total: Tensor | float = 0.0
    per_step: list[Tensor | None] = []
    first_support: Tensor | None = None
    for j in range(inner_steps):
        support_loss = loss_fn(forward(fast, support[0]), support[1])
        first_support = support_loss if first_support is None else first_support
        fast = inner_update(fast, support_loss, inner_lr, first_order)
        if weights[j] == 0:
            per_step.append(None)
            continue
        query_loss = loss_fn(forward(fast, query[0]), query[1])
        per_step.append(query_loss)
        total = total + weights[j] * query_loss
    assert isinstance(total, Tensor) and first_support is not None  # some weight is non-zero
    return total, per_step, first_support.detach()
