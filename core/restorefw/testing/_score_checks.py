"""Contract checks of metrics and losses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from restorefw.testing._build import Source, available_devices, build_component, close, generator, images, require, same

__all__ = ["check_loss", "check_metric"]


def check_metric(
    source: Source,
    spec: str | dict[str, Any] | None = None,
    /,
    *,
    input_shape: Sequence[int] = (2, 3, 32, 32),
    devices: Sequence[str] | None = None,
    **params: Any,
) -> Callable[..., Any]:
    """Assert the metric contract and return the built metric.

    Checks: attributes ``higher_is_better: bool`` and ``name: str``;
    ``metric(pred, target)`` is a finite float ``(B,)`` tensor, deterministic,
    per image, leaves its inputs alone; a perfect prediction scores at least as
    well as a noisy one and less noise scores better, in the declared direction;
    CUDA inputs (when available) give the CPU values.
    """
    built = build_component(source, "metric", spec, params)
    metric, label = built.component, built.label
    require(callable(metric), label, "the factory must return a callable metric(pred, target)")
    require(isinstance(getattr(metric, "higher_is_better", None), bool), label,
            "needs a bool attribute 'higher_is_better'")
    require(isinstance(getattr(metric, "name", None), str) and metric.name, label, "needs a str attribute 'name'")
    target = images(input_shape, seed=0)
    noise = torch.randn(target.shape, generator=generator(1))
    light, heavy = (target + 0.02 * noise).clamp(0, 1), (target + 0.1 * noise).clamp(0, 1)
    inputs = (light.clone(), target.clone())
    value = metric(*inputs)
    require(torch.equal(inputs[0], light) and torch.equal(inputs[1], target), label, "modified its inputs in place")
    b = target.shape[0]
    require(isinstance(value, Tensor) and value.shape == (b,), label,
            f"must return a ({b},) tensor (one value per image), got {getattr(value, 'shape', type(value).__name__)}")
    require(value.is_floating_point() and bool(torch.isfinite(value).all()), label,
            f"values must be finite floats, got {value}")
    require(same(value, metric(light, target)), label, "two calls on the same inputs differ")
    require(close(value[:1], metric(light[:1], target[:1]), atol=1e-6), label,
            "the value for one image depends on the other images of the batch")
    perfect, worse = metric(target, target.clone()), metric(heavy, target)
    better = (lambda a, c: a >= c) if metric.higher_is_better else (lambda a, c: a <= c)
    direction = "higher" if metric.higher_is_better else "lower"
    require(bool(better(perfect, value).all()) and bool(better(value, worse).all()) and not same(value, worse), label,
            f"scores (perfect {perfect.tolist()}, light noise {value.tolist()}, heavy noise {worse.tolist()}) "
            f"do not get better toward the target although higher_is_better={metric.higher_is_better} "
            f"({direction} should be better)")
    for device in available_devices(devices):
        if device != "cpu":
            on_device = metric(light.to(device), target.to(device))
            require(close(on_device, value, atol=1e-4), label, f"on {device} it gives {on_device}, on cpu {value}")
    return metric


def check_loss(
    source: Source,
    spec: str | dict[str, Any] | None = None,
    /,
    *,
    input_shape: Sequence[int] = (2, 3, 32, 32),
    devices: Sequence[str] | None = None,
    **params: Any,
) -> nn.Module:
    """Assert the loss contract and return the built loss.

    Checks: an ``nn.Module`` whose ``forward(pred, target)`` gives a finite float
    scalar with a finite, non-zero gradient for ``pred``; deterministic; no
    larger at the target than away from it; device moves work.
    """
    built = build_component(source, "loss", spec, params)
    loss_fn, label = built.component, built.label
    require(isinstance(loss_fn, nn.Module), label,
            f"the factory must return a torch.nn.Module, got {type(loss_fn).__name__}")
    target = images(input_shape, seed=0)
    pred = images(input_shape, seed=1).requires_grad_(True)
    value = loss_fn(pred, target)
    require(isinstance(value, Tensor) and value.dim() == 0, label,
            f"must return a scalar (0-d) tensor, got {getattr(value, 'shape', type(value).__name__)}")
    require(value.is_floating_point() and bool(torch.isfinite(value)), label,
            f"value must be a finite float, got {value}")
    require(value.requires_grad, label, "the value does not depend on pred through autograd")
    value.backward()
    grad = pred.grad
    require(grad is not None and bool(torch.isfinite(grad).all()) and bool(grad.abs().sum() > 0), label,
            "pred receives no finite, non-zero gradient")
    with torch.no_grad():
        require(same(value.detach(), loss_fn(pred, target)), label, "two calls on the same inputs differ")
        at_target = loss_fn(target, target.clone())
        require(at_target <= value, label, f"is larger at the target ({float(at_target):.4g}) than away from it "
                f"({float(value):.4g})")
        for device in available_devices(devices):
            if device != "cpu":
                moved = loss_fn.to(device)(pred.detach().to(device), target.to(device))
                require(moved.device.type == torch.device(device).type and close(moved, value, atol=1e-4), label,
                        f"on {device} it gives {moved}, on cpu {value}")
                loss_fn.to("cpu")
    return loss_fn
