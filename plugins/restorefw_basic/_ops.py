"""The basic plugin's op: ``imresize_bicubic``, MATLAB-compatible bicubic resizing.

Only the reference is registered: a strided-window path for integer down-scaling was
measured 1.3-1.9x faster on 256-pixel images but 1.7x slower on batches of 96-pixel
crops, so it does not pay across the board. Kernel plugins may override the op.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from restorefw.hookspecs import Register
from restorefw.ops import OpSample, Reference
from restorefw_basic._imresize import imresize

__all__ = ["imresize_samples", "register_basic_ops"]


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
