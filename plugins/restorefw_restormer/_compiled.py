"""GDFN's gate compiled by inductor for training on the CPU, with a real fallback to eager torch.

In a training step the gate ``gelu(x1) * x2`` is a chain of memory-bound passes: GELU, the
product, their backward passes and the concatenation of the two halves' gradients. Inductor
fuses them into one loop forward and one backward over channels-last memory: 2-3x faster on
Restormer's hidden maps, about 4% of a default-Restormer training step at 128². Compiling
costs about 20 s at the first training step of a process on two cores (a few seconds once
inductor's on-disk cache holds it), so the override is an option, not the default: pin it
with ``RESTOREFW_OPS=restormer.gdfn=compiled`` for long CPU training runs. It needs a C++
compiler (without one it is unavailable), and if compiling fails anyway the gate runs eager
from then on, with a warning.
"""

from __future__ import annotations

import importlib.util
import shutil
import warnings
from collections.abc import Callable
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from restorefw.hookspecs import Register
from restorefw.ops import Override, matmul_dtype
from restorefw_restormer._fused import gdfn_onednn
from restorefw_restormer._ops import gdfn_gate

__all__ = ["compiled_gate", "gdfn_compiled", "inductor_available", "register_compiled_ops"]


def inductor_available() -> bool:
    """Whether torch.compile's inductor backend and a C++ compiler are there (nothing is compiled here)."""
    if importlib.util.find_spec("torch._inductor") is None:
        return False
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        compiler = get_cpp_compiler()
    except Exception:  # noqa: BLE001 - a private helper that may move: fall back to the usual names
        compiler = "g++"
    return any(shutil.which(name) for name in (compiler, "g++", "c++", "clang++"))


@lru_cache(maxsize=1)
def _compiled() -> Callable[[Tensor], Tensor] | None:
    """The compiled gate, probed forward and backward on a small map; ``None`` if that fails."""
    try:
        with warnings.catch_warnings():
            # Loading inductor touches deprecated torch.jit APIs; that is torch's business, not the user's.
            warnings.simplefilter("ignore", DeprecationWarning)
            fn = torch.compile(gdfn_gate, dynamic=True)
            # Batch 1 and unequal sides, as most maps are: one compiled graph then serves them all.
            probe = torch.randn(1, 4, 3, 5).contiguous(memory_format=torch.channels_last).requires_grad_()
            fn(probe).sum().backward()
    except Exception as exc:  # noqa: BLE001 - any compiler failure means: run eager
        warnings.warn(f"restormer.gdfn: compiling the gate failed ({type(exc).__name__}: {exc}); running it eager",
                      RuntimeWarning, stacklevel=3)
        return None
    return fn


def compiled_gate(x: Tensor) -> Tensor:
    """:func:`restorefw_restormer._ops.gdfn_gate`, compiled when inductor works, else eager."""
    fn = _compiled()
    return gdfn_gate(x) if fn is None else fn(x)


def gdfn_compiled(
    x: Tensor, w_in: Tensor, b_in: Tensor | None, w_dw: Tensor, b_dw: Tensor | None, w_out: Tensor,
    b_out: Tensor | None, residual: Tensor | None = None,
) -> Tensor:
    """:func:`restorefw_restormer._fused.gdfn` with the compiled gate when a gradient is needed.

    Without autograd it is :func:`restorefw_restormer._fused.gdfn_onednn` (oneDNN's fused
    post-ops beat a compiled gate there, and need no compiling). Only float32 channels-last
    CPU maps take the compiled gate: every other dtype or layout would compile once more,
    and bf16 training steps are short already.
    """
    grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad
                                           for t in (x, residual, w_in, b_in, w_dw, b_dw, w_out, b_out))
    fp32_nhwc = matmul_dtype(x) == torch.float32 and x.is_contiguous(memory_format=torch.channels_last)
    if not grad or x.device.type != "cpu" or not fp32_nhwc:
        return gdfn_onednn(x, w_in, b_in, w_dw, b_dw, w_out, b_out, residual)
    hidden = F.conv2d(F.conv2d(x, w_in, b_in), w_dw, b_dw, padding=1, groups=w_dw.shape[0])
    out = F.conv2d(compiled_gate(hidden), w_out, b_out)
    return out if residual is None else residual + out


def register_compiled_ops(register: Register) -> None:
    """Register the ``compiled`` override of ``restormer.gdfn`` (CPU; needs inductor and a C++ compiler)."""
    register("restormer.gdfn",
             # Below onednn's priority: auto leaves it out; RESTOREFW_OPS=restormer.gdfn=compiled picks it.
             Override("compiled", gdfn_compiled, devices=("cpu",), dtypes=(torch.float32, torch.bfloat16), priority=5,
                      available=inductor_available, requires="torch.compile's inductor and a C++ compiler"),
             description="the onednn override, with the gate compiled by inductor when a gradient is needed")
