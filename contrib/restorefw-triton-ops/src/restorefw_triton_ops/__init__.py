"""restorefw-triton-ops: Triton CUDA kernels registered as overrides of restorefw ops.

Registered through the ``restorefw`` entry-point group; depends on restorefw's public
API only. Importing it does not import Triton.
"""

from __future__ import annotations

import importlib.util

import torch

from restorefw import Register, hookimpl
from restorefw.ops import Override
from restorefw_triton_ops._layernorm import layernorm2d_triton

__all__ = ["RESTOREFW_API_VERSION", "layernorm2d_triton", "register_ops", "triton_usable"]

RESTOREFW_API_VERSION = 1


def triton_usable() -> bool:
    """Whether Triton is installed and a CUDA GPU is present."""
    return importlib.util.find_spec("triton") is not None and torch.cuda.is_available()


@hookimpl
def register_ops(register: Register) -> None:
    register(
        "layernorm2d",
        Override("triton", layernorm2d_triton, devices=("cuda",), dtypes=(torch.float32, torch.float16, torch.bfloat16),
                 priority=20, available=triton_usable, requires="triton and a CUDA GPU"),
        description="one Triton kernel per pixel block; backward through the reference",
        license="Apache-2.0",
    )
