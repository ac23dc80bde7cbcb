"""The basic plugin's op: ``imresize_bicubic``, MATLAB-compatible bicubic resizing.

Only the reference is registered: a strided-window path for integer down-scaling was
measured 1.3-1.9x faster on 256-pixel images but 1.7x slower on batches of 96-pixel
crops, so it does not pay across the board. Kernel plugins may override the op.

Modules bind the op with :meth:`restorefw.ops.OpsModule.use_op`; degradations and task
baselines, which are not modules, call it through an :class:`Imresize` object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

from restorefw import Register
from restorefw.ops import OpSample, Reference, current_policy, current_registry
from restorefw_basic._imresize import imresize

__all__ = ["Imresize", "imresize_samples", "register_basic_ops"]


def imresize_samples(generator: torch.Generator) -> Iterator[OpSample]:
    """Down- and up-scaling by factors and to sizes, with and without antialiasing."""
    calls: list[tuple[tuple[int, ...], dict[str, Any]]] = [
        ((2, 3, 12, 10), {"scale": 0.5}), ((1, 1, 13, 9), {"scale": 0.25}),
        ((1, 3, 9, 9), {"scale": 1 / 3, "antialias": False}), ((2, 2, 5, 6), {"scale": 2}),
        ((1, 3, 8, 11), {"size": (5, 14)}),
    ]
    for shape, kwargs in calls:
        yield OpSample((torch.rand(shape, generator=generator, dtype=torch.float64),), kwargs)


def register_basic_ops(register: Register) -> None:
    """Register the reference of ``imresize_bicubic``."""
    register("imresize_bicubic", Reference(imresize, imresize_samples),
             description="MATLAB imresize(x, scale | size, 'bicubic'), antialiased when shrinking")


class Imresize:
    """``imresize_bicubic`` for callers that are not modules: same arguments as :func:`imresize`.

    Degradations run wherever their images are (DataLoader workers on the CPU, a strategy
    on the GPU), so the implementation is chosen at the first call for each device type
    and dtype, under the op policy in force at construction (as a module keeps the one in
    force at build).
    """

    def __init__(self) -> None:
        self._policy = current_policy()
        self._chosen: dict[tuple[str, torch.dtype], Callable[..., Tensor]] = {}

    def __getstate__(self) -> dict[str, Any]:
        # An override may be a closure, which does not pickle: a copy sent to a DataLoader
        # worker chooses again, under the same policy.
        return {"_policy": self._policy, "_chosen": {}}

    def __call__(self, x: Tensor, scale: float | None = None, size: tuple[int, int] | None = None,
                 antialias: bool = True) -> Tensor:
        """Resize ``x`` by ``scale`` or to ``size`` with the implementation chosen for its device and dtype."""
        key = (x.device.type, x.dtype)
        fn = self._chosen.get(key)
        if fn is None:
            fn = self._chosen[key] = current_registry().resolve("imresize_bicubic", x.device, x.dtype, self._policy)
        return fn(x, scale=scale, size=size, antialias=antialias)
