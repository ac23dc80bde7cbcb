"""Device and precision selection, and compilation where the device has a compiler."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from collections.abc import Iterator

import torch
from torch import nn

from restorefw._errors import ConfigError
from restorefw.engine._isa import cpu_isa
from restorefw.models import Precision

__all__ = ["PRECISIONS", "autocast", "autocast_dtype", "compile_model", "compiler_missing", "resolve_device",
           "resolve_precision"]

PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
"""What ``--precision`` and ``run.precision`` accept."""

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda:i`` is checked to exist."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise ConfigError(f"invalid device '{spec}': expected auto, cpu, cuda or cuda:N", "run.device") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device '{spec}' requested but CUDA is not available", "run.device")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device '{spec}' does not exist ({torch.cuda.device_count()} GPUs)", "run.device")
    return device


def resolve_precision(spec: str, device: torch.device) -> Precision:
    """The precision to run on ``device`` for ``spec`` (``auto``, ``fp32``, ``bf16`` or ``fp16``).

    ``auto`` is bf16 where the hardware multiplies bf16 natively in matrix units: CUDA
    devices that support bf16, and CPUs with AMX-BF16 (:attr:`CpuIsa.bf16_matrix_units`);
    fp32 everywhere else. ``bf16`` runs on any CPU (autocast), slower than fp32 on CPUs
    without bf16 instructions. ``fp16`` on a CPU needs native fp16 arithmetic
    (AVX512-FP16 or AMX-FP16): without it an fp16 matmul is hundreds of times slower.

    Raises:
        ConfigError: an unknown spec, or a precision the device cannot run (path ``run.precision``).
    """
    if spec not in PRECISIONS:
        raise ConfigError(f"unknown precision '{spec}': expected one of {', '.join(PRECISIONS)}", "run.precision")
    if spec == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        return "bf16" if device.type == "cpu" and cpu_isa().bf16_matrix_units else "fp32"
    if device.type not in ("cpu", "cuda") and spec != "fp32":
        raise ConfigError(f"precision '{spec}' runs on CPU and CUDA devices, not {device}", "run.precision")
    if spec == "fp16" and device.type == "cpu" and not cpu_isa().fp16_arithmetic:
        raise ConfigError(
            "precision 'fp16' on this CPU would be far slower than fp32: it has neither AVX512-FP16 nor AMX-FP16 "
            "(use bf16 or fp32)", "run.precision")
    return spec  # type: ignore[return-value]  # checked against PRECISIONS above


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a resolved precision; ``None`` for fp32."""
    return _DTYPES.get(precision)


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """Autocast to bf16 or fp16 on the CPU or CUDA; a no-op for ``fp32``."""
    dtype = autocast_dtype(precision)
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def compiler_missing(device: torch.device) -> str | None:
    """Why inductor (``torch.compile``'s default backend) cannot build kernels for ``device``, or ``None``.

    It writes C++ on the CPU (``$CXX``, else ``g++``, ``c++`` or ``clang++`` on the ``PATH``) and
    Triton on CUDA.
    """
    if device.type == "cuda":
        return None if importlib.util.find_spec("triton") else "Triton is not installed (inductor needs it on CUDA)"
    if device.type == "cpu":
        candidates = [os.environ["CXX"]] if os.environ.get("CXX") else ["g++", "c++", "clang++"]
        if any(shutil.which(c) for c in candidates):
            return None
        return f"no C++ compiler found ({', '.join(candidates)}; inductor needs one on the CPU)"
    return f"inductor does not compile for {device.type}"


def compile_model(model: nn.Module, device: torch.device) -> tuple[nn.Module, str]:
    """``torch.compile(model)`` where inductor can build kernels for ``device``, else ``model`` itself.

    Returns:
        The model to call, and how it runs: ``"inductor"`` or ``"eager (<why>)"``.
    """
    missing = compiler_missing(device)
    if missing is not None:
        return model, f"eager ({missing})"
    return torch.compile(model), "inductor"
