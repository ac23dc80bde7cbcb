"""Contract checks of degradations, tasks and kernel samplers (see :mod:`restorefw.hookspecs`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from restorefw._task import Task
from restorefw.testing._build import (
    Source,
    available_devices,
    build_component,
    close,
    foreign_rng,
    generator,
    images,
    require,
    same,
)

__all__ = ["check_degradation", "check_kernel", "check_task"]

_SEED, _OTHER_SEED = 0, 1


def check_degradation(
    source: Source,
    spec: str | dict[str, Any] | None = None,
    /,
    *,
    stochastic: bool = True,
    in_range: bool = True,
    input_shape: Sequence[int] = (2, 3, 48, 48),
    devices: Sequence[str] | None = None,
    **params: Any,
) -> Callable[..., Any]:
    """Assert the degradation contract and return the built degradation.

    Checks: ``degrade(hr, generator)`` returns ``(lq, target)`` tensors with the
    batch and channels of ``hr``, ``lq`` ``scale`` times smaller than ``target``,
    the input dtype (float32 and float64) and device, finite values (in [0, 1]
    when ``in_range``), ``hr`` left unmodified; the same generator seed gives the
    same output whatever the global RNGs, and (when ``stochastic``) another seed
    a different one; the config schema and resolved parameters serialise.

    Args:
        source: a registry (then ``spec`` names the degradation) or one registry entry.
        spec: registered name, or a spec table ``{"type": name, ...}``.
        stochastic: the degradation is random, so seeds 0 and 1 must differ.
        in_range: ``lq`` must stay in [0, 1] (false for e.g. unclipped noise).
        input_shape: ``(B, C, H, W)`` of the clean batch; H and W divisible by the scale.
        devices: devices to run on; default CPU, plus CUDA when available.
        **params: the degradation's parameters.
    """
    built = build_component(source, "degradation", spec, params)
    require(callable(built.component), built.label, "the factory must return a callable degrade(hr, generator)")
    verify_degradation(built.component, built.label, stochastic, in_range, input_shape, devices)
    return built.component


def check_task(
    source: Source,
    spec: str | dict[str, Any] | None = None,
    /,
    *,
    stochastic: bool = True,
    in_range: bool = True,
    input_shape: Sequence[int] = (2, 3, 48, 48),
    devices: Sequence[str] | None = None,
    **params: Any,
) -> Task:
    """Assert the task contract and return the built :class:`restorefw.Task`.

    Checks the evaluation defaults (``scale``, ``crop_border``, ``y_channel``),
    that the degradation's scale is the task's, the degradation contract (as
    :func:`check_degradation`, same options) and that ``baseline`` maps ``lq``
    to the target's shape.
    """
    built = build_component(source, "task", spec, params)
    task, label = built.component, built.label
    require(isinstance(task, Task), label, f"the factory must return a restorefw.Task, got {type(task).__name__}")
    require(isinstance(task.name, str) and task.name, label, "Task.name must be a non-empty string")
    require(isinstance(task.scale, int) and task.scale >= 1, label,
            f"Task.scale must be an int >= 1, got {task.scale!r}")
    require(isinstance(task.crop_border, int) and task.crop_border >= 0, label,
            f"Task.crop_border must be an int >= 0, got {task.crop_border!r}")
    require(isinstance(task.y_channel, bool), label, f"Task.y_channel must be a bool, got {task.y_channel!r}")
    degradation_scale = getattr(task.degradation, "scale", 1)
    require(degradation_scale == task.scale, label,
            f"Task.scale is {task.scale} but its degradation's scale is {degradation_scale}")
    lq, target = verify_degradation(task.degradation, label, stochastic, in_range, input_shape, devices)
    if task.baseline is not None:
        up = task.baseline(lq)
        require(isinstance(up, Tensor) and up.shape == target.shape, label,
                f"baseline(lq) must have the target's shape {tuple(target.shape)}, got {_shape(up)}")
    return task


def verify_degradation(
    degrade: Callable[..., Any],
    label: str,
    stochastic: bool,
    in_range: bool,
    input_shape: Sequence[int],
    devices: Sequence[str] | None,
) -> tuple[Tensor, Tensor]:
    """Run the degradation checks on a built degradation; returns its ``(lq, target)`` for seed 0."""
    scale = getattr(degrade, "scale", 1)
    require(isinstance(scale, int) and scale >= 1, label, f"attribute 'scale' must be an int >= 1, got {scale!r}")
    b, c, h, w = input_shape
    if h % scale or w % scale:
        raise ValueError(f"input_shape {tuple(input_shape)} is not divisible by the scale {scale} of {label}")
    hr = images(input_shape)
    lq, target = _run(degrade, hr, _SEED, label)
    _check_pair(lq, target, hr, scale, in_range, label)
    with foreign_rng(12345):
        again = _run(degrade, hr, _SEED, label)
    require(same((lq, target), again), label,
            "the same generator seed gave different outputs: draw every random number from the "
            "generator argument, never from the global RNG")
    if stochastic:
        require(not same(lq, _run(degrade, hr, _OTHER_SEED, label)[0]), label,
                f"generator seeds {_SEED} and {_OTHER_SEED} gave the same output: it ignores the generator "
                "(pass stochastic=False if it is deterministic)")
    lq64, target64 = _run(degrade, hr.double(), _SEED, label)
    require(lq64.dtype == torch.float64 and target64.dtype == torch.float64, label,
            f"float64 input gave {lq64.dtype} / {target64.dtype}: keep the input dtype")
    for device in available_devices(devices):
        if device == "cpu":
            continue
        lq_d, target_d = _run(degrade, hr.to(device), _SEED, label)
        require(lq_d.device.type == torch.device(device).type and target_d.device.type == lq_d.device.type, label,
                f"input on {device} gave outputs on {lq_d.device} / {target_d.device}: keep the input device")
        # Loose tolerance: GPU convolutions may use TF32.
        require(close(lq_d, lq, atol=1e-2), label, f"output on {device} differs from the CPU output for the same seed")
    return lq, target


def _run(degrade: Callable[..., Any], hr: Tensor, seed: int, label: str) -> tuple[Tensor, Tensor]:
    original = hr.clone()
    out = degrade(hr, generator(seed))
    require(isinstance(out, tuple) and len(out) == 2 and all(isinstance(t, Tensor) for t in out), label,
            f"degrade(hr, generator) must return a (lq, target) tuple of tensors, got {type(out).__name__}")
    require(torch.equal(hr, original), label, "modified its input hr in place")
    return out


def _check_pair(lq: Tensor, target: Tensor, hr: Tensor, scale: int, in_range: bool, label: str) -> None:
    b, c, h, w = hr.shape
    for name, t, size in (("lq", lq, (h // scale, w // scale)), ("target", target, (h, w))):
        require(t.shape == (b, c, *size), label,
                f"{name} has shape {tuple(t.shape)}, expected {(b, c, *size)} "
                f"for hr {tuple(hr.shape)} and scale {scale}")
        require(t.dtype == hr.dtype, label, f"{name} has dtype {t.dtype}, expected the input's {hr.dtype}")
        require(t.device == hr.device, label, f"{name} is on {t.device}, expected the input's device {hr.device}")
        require(bool(torch.isfinite(t).all()), label, f"{name} has non-finite values")
    if in_range:
        require(lq.min() >= 0 and lq.max() <= 1, label,
                f"lq leaves [0, 1] ([{lq.min():.4f}, {lq.max():.4f}]); pass in_range=False if that is intended")


def check_kernel(
    source: Source,
    spec: str | dict[str, Any] | None = None,
    /,
    *,
    stochastic: bool = True,
    **params: Any,
) -> Callable[..., Any]:
    """Assert the kernel-sampler contract and return the built sampler.

    Checks: an integer ``size`` attribute; ``sample(generator)`` gives a float
    ``(size, size)`` tensor, finite, non-negative, summing to 1; the same seed
    gives the same kernel whatever the global RNGs, another seed a different one
    (when ``stochastic``); the config schema and resolved parameters serialise.

    Args:
        source: a registry (then ``spec`` names the kernel family) or one registry entry.
        spec: registered name, or a spec table ``{"type": name, ...}``.
        stochastic: the family is random, so seeds 0 and 1 must differ (false for a fixed kernel).
        **params: the kernel family's parameters.
    """
    built = build_component(source, "kernel", spec, params)
    sampler, label = built.component, built.label
    require(callable(sampler), label, "the factory must return a callable sample(generator)")
    size = getattr(sampler, "size", None)
    require(isinstance(size, int) and size > 0, label, f"the sampler needs an int attribute 'size' > 0, got {size!r}")
    kernel = sampler(generator(_SEED))
    require(isinstance(kernel, Tensor), label, f"sample(generator) must return a tensor, got {type(kernel).__name__}")
    require(kernel.shape == (size, size), label, f"kernel has shape {tuple(kernel.shape)}, expected ({size}, {size})")
    require(kernel.is_floating_point(), label, f"kernel has dtype {kernel.dtype}, expected a float dtype")
    require(bool(torch.isfinite(kernel).all()), label, "kernel has non-finite values")
    require(bool((kernel >= 0).all()), label, f"kernel has negative values (min {kernel.min():.3g})")
    total = float(kernel.double().sum())
    require(abs(total - 1) <= 1e-4, label, f"kernel sums to {total:.6g}, expected 1")
    with foreign_rng(12345):
        require(same(kernel, sampler(generator(_SEED))), label,
                "the same generator seed gave different kernels: draw from the generator argument only")
    if stochastic:
        require(not same(kernel, sampler(generator(_OTHER_SEED))), label,
                f"generator seeds {_SEED} and {_OTHER_SEED} gave the same kernel: it ignores the generator "
                "(pass stochastic=False for a fixed kernel)")
    return sampler


def _shape(x: Any) -> Any:
    return tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
