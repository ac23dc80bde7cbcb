"""The contract of an op override: it computes what the reference computes.

:func:`check_op` runs an implementation and the op's reference on the op's sample calls,
in every dtype and device the implementation claims, with contiguous, channels-last and
strided 4-D inputs, and compares values and gradients with the float64 reference.
"""

from __future__ import annotations

import unittest
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from restorefw._errors import RegistryError
from restorefw._manager import build_op_registry
from restorefw.ops import FLOATING, Implementation, Op, OpRegistry, Override, default_op_registry
from restorefw.testing._build import available_devices, fail, generator, require
from restorefw.testing._managers import plugin_manager

__all__ = ["LAYOUTS", "TOLERANCES", "check_op", "op_registry_with"]

LAYOUTS: tuple[str, ...] = ("contiguous", "channels_last", "strided")
"""Memory layouts of the 4-D tensor arguments: ``strided`` is a view with a column stride of 2."""

TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-9, 1e-7),
    torch.float32: (1e-5, 1e-5),
    torch.float16: (1e-3, 4e-3),
    torch.bfloat16: (1e-2, 3e-2),
}
"""``(atol, rtol)`` per dtype, against the reference computed in float64 on the same rounded inputs.

The half-precision ``rtol`` are about four units in the last place: gradients are sums
over many pixels, rounded once more than a value."""


def op_registry_with(
    *plugins: Any, load_entrypoints: bool = False, only: Iterable[str] | None = None, strict: bool = True
) -> OpRegistry:
    """The ops of the core and ``plugins`` only (arguments as for :func:`plugin_manager`).

    Example:
        ``check_op("layernorm2d", "triton", registry=op_registry_with(restorefw_triton_ops))``
    """
    return build_op_registry(plugin_manager(*plugins, load_entrypoints=load_entrypoints, only=only, strict=strict))


def check_op(
    name: str,
    impl: str | Override | Callable[..., Any],
    *,
    registry: OpRegistry | None = None,
    devices: Sequence[str] | None = None,
    dtypes: Sequence[torch.dtype] | None = None,
    layouts: Sequence[str] = LAYOUTS,
    backward: bool = True,
    tolerances: Mapping[torch.dtype, tuple[float, float]] | None = None,
    seed: int = 0,
) -> list[str]:
    """Assert that ``impl`` matches the reference of op ``name``; return the cases checked.

    For each device, dtype, layout and sample call of the op, run without and with
    autograd: the output has the reference's shape, the input's dtype and device, and
    the inputs are left unchanged; values and the gradients of every floating input (for a random output gradient)
    satisfy, with ``t`` the float64 reference, ``r`` the reference in the dtype under
    test and ``o`` the implementation, ``|o - t| <= atol + rtol * |t|`` elementwise
    (:data:`TOLERANCES`) or ``max |o - t| <= 2 * max |r - t|`` (no worse than the
    reference's own rounding).

    Args:
        name: the op.
        impl: an implementation name of the op in ``registry``, an :class:`Override`
            (registered or not), or a bare function (run on every available device).
        registry: where the op is; default: the installed plugins' ops.
        devices: default: those of the implementation that this machine has.
        dtypes: default: those the implementation declares.
        layouts: memory layouts of the 4-D tensor arguments (:data:`LAYOUTS`).
        backward: also compare gradients.
        tolerances: ``{dtype: (atol, rtol)}`` replacing entries of :data:`TOLERANCES`.
        seed: seed of the sample calls and output gradients.

    Raises:
        ContractError: a mismatch, naming the case.
        unittest.SkipTest: the implementation is unavailable or runs on no device here
            (pytest reports a skip).
    """
    registry = registry if registry is not None else default_op_registry()
    try:
        op = registry.get(name)
        target = op.implementation(impl) if isinstance(impl, str) else _unregistered(name, impl)
    except RegistryError as exc:
        fail(f"op '{name}'", str(exc))
    label = f"op '{name}' implementation '{target.name}'" + (f" ({target.origin})" if target.plugin else "")
    if target.unavailable is not None:
        raise unittest.SkipTest(f"{label} is unavailable here: {target.unavailable}")
    here = [d for d in available_devices(devices) if target.devices is None or torch.device(d).type in target.devices]
    if not here:
        raise unittest.SkipTest(f"{label} runs on {', '.join(target.devices or ())}: none of them is available here")
    limits = {**TOLERANCES, **(tolerances or {})}
    samples = list(op.samples(generator(seed)))
    require(samples, label, "the op's reference gives no sample calls")
    cases = []
    for device in here:
        for dtype in dtypes if dtypes is not None else target.dtypes:
            for layout in layouts:
                for index, sample in enumerate(samples):
                    case = f"{device}/{str(dtype).removeprefix('torch.')}/{layout}/sample {index}"
                    _check_case(op, target.fn, sample.args, sample.kwargs, (device, dtype, layout),
                                limits[dtype], backward, seed + index, f"{label} [{case}]")
                    cases.append(case)
    return cases


def _unregistered(name: str, impl: Override | Callable[..., Any]) -> Implementation:
    if isinstance(impl, Override):
        return Implementation(name, impl.name, impl.fn, tuple(impl.devices), tuple(impl.dtypes), impl.priority,
                              impl.available, impl.requires)
    return Implementation(name, getattr(impl, "__name__", "candidate"), impl, None, FLOATING)


def _place(value: Any, device: str, dtype: torch.dtype, layout: str) -> Any:
    """A fresh copy of a floating tensor in ``dtype`` on ``device``, laid out as asked."""
    if not (isinstance(value, Tensor) and value.is_floating_point()):
        return value
    value = value.detach()
    if value.dim() == 4 and layout == "channels_last":
        return value.to(device=device, dtype=dtype, memory_format=torch.channels_last, copy=True)
    if value.dim() == 4 and layout == "strided":
        buffer = torch.empty((*value.shape[:-1], 2 * value.shape[-1]), device=device, dtype=dtype)
        return buffer[..., ::2].copy_(value)
    return value.to(device=device, dtype=dtype, memory_format=torch.contiguous_format, copy=True)


def _outputs(value: Any) -> tuple[Tensor, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _check_case(
    op: Op, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
    where: tuple[str, torch.dtype, str], limits: tuple[float, float], backward: bool, seed: int, label: str,
) -> None:
    device, dtype, layout = where
    inputs = [_place(a, device, dtype, layout) for a in args]
    # The truth sees the very values the dtype under test can hold, so rounding the inputs is no error.
    exact = [_place(a, device, torch.float64, "contiguous") for a in inputs]
    with torch.no_grad():  # implementations may take another path without autograd
        truth = _outputs(op.reference.fn(*exact, **kwargs))
        _compare(_run(fn, inputs, kwargs, dtype, device, truth, label), truth,
                 _outputs(op.reference.fn(*inputs, **kwargs)), limits, label, "output without autograd")
    if not backward:
        return
    for tensor in (*inputs, *exact):
        if isinstance(tensor, Tensor) and tensor.is_floating_point():
            tensor.requires_grad_(True)
    out = _run(fn, inputs, kwargs, dtype, device, truth, label)
    truth, rounded = _outputs(op.reference.fn(*exact, **kwargs)), _outputs(op.reference.fn(*inputs, **kwargs))
    _compare(out, truth, rounded, limits, label, "output")
    gen = generator(seed)
    seeds = tuple(torch.randn(t.shape, generator=gen, dtype=torch.float64).to(device) for t in truth)
    expected = _grads(truth, exact, seeds, label), _grads(rounded, inputs, seeds, label)
    _compare(_grads(out, inputs, seeds, label), *expected, limits, label, "gradient")


def _run(
    fn: Callable[..., Any], inputs: list[Any], kwargs: dict[str, Any], dtype: torch.dtype, device: str,
    truth: tuple[Tensor, ...], label: str,
) -> tuple[Tensor, ...]:
    """Call the implementation and check what it returns, and that it left its inputs alone."""
    before = [a.detach().clone() for a in inputs if isinstance(a, Tensor)]
    try:
        out = _outputs(fn(*inputs, **kwargs))
    except Exception as exc:
        fail(label, f"raised {type(exc).__name__}: {exc}")
    after = [a.detach() for a in inputs if isinstance(a, Tensor)]
    require(all(torch.equal(a, b) for a, b in zip(before, after, strict=True)), label, "modified its inputs")
    require(len(out) == len(truth) and all(isinstance(o, Tensor) for o in out), label,
            f"returned {len(out)} outputs of types {[type(o).__name__ for o in out]}, the reference {len(truth)}")
    for o, t in zip(out, truth, strict=True):
        require(o.shape == t.shape, label, f"output shape {tuple(o.shape)}, reference {tuple(t.shape)}")
        require(o.dtype == dtype and o.device.type == torch.device(device).type, label,
                f"output is {o.dtype} on {o.device}, expected {dtype} on {device}")
    return out


def _grads(outputs: tuple[Tensor, ...], inputs: list[Any], seeds: tuple[Tensor, ...], label: str) -> tuple[Tensor, ...]:
    leaves = [a for a in inputs if isinstance(a, Tensor) and a.requires_grad]
    require(all(o.requires_grad for o in outputs), label, "output does not require grad: no backward")
    found = torch.autograd.grad(outputs, leaves, [s.to(o.dtype) for s, o in zip(seeds, outputs, strict=True)],
                                allow_unused=True)
    return tuple(torch.zeros_like(leaf) if g is None else g for g, leaf in zip(found, leaves, strict=True))


def _compare(
    got: tuple[Tensor, ...], truth: tuple[Tensor, ...], rounded: tuple[Tensor, ...],
    limits: tuple[float, float], label: str, what: str,
) -> None:
    atol, rtol = limits
    for i, (o, t, r) in enumerate(zip(got, truth, rounded, strict=True)):
        o, t, r = o.detach().double(), t.detach().double(), r.detach().double()
        if torch.allclose(o, t, atol=atol, rtol=rtol, equal_nan=True):
            continue
        error, own = (o - t).abs().nan_to_num(float("inf")).max().item(), (r - t).abs().max().item()
        require(error <= 2 * own, label,
                f"{what} {i} differs from the reference by up to {error:.3g} (atol {atol:g}, rtol {rtol:g}; "
                f"the reference itself in this dtype is off by {own:.3g})")
