"""A kernel plugin for tests that records the calls an op receives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from restorefw.hookspecs import Register, hookimpl
from restorefw.ops import FLOATING, Override

__all__ = ["OpSpy"]


class OpSpy:
    """A plugin overriding op ``op`` with ``fn``, recording the shape of each call's first argument.

    With a priority above the shipped overrides it is what modules and callers bind, so a test
    sees which calls go through the op.

    Example:
        ``spy = OpSpy("imresize_bicubic", imresize)``; build under
        ``restorefw.ops.use(registry=op_registry_with(restorefw_basic, spy))``, run, then check
        ``spy.calls``.
    """

    name = "op_spy"

    def __init__(self, op: str, fn: Callable[..., Any], *, devices: Sequence[str] = ("cpu",),
                 dtypes: Sequence[torch.dtype] = FLOATING, priority: int = 50) -> None:
        self.op, self.fn = op, fn
        self.calls: list[tuple[int, ...]] = []
        self._override = Override("spy", self, devices=tuple(devices), dtypes=tuple(dtypes), priority=priority)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Record the call and return ``fn``'s result."""
        self.calls.append(tuple(args[0].shape))
        return self.fn(*args, **kwargs)

    @hookimpl
    def register_ops(self, register: Register) -> None:
        """Register the spy as an override of :attr:`op`."""
        register(self.op, self._override)
