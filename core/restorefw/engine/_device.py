"""Device and precision selection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from restorefw._errors import ConfigError

__all__ = ["autocast", "resolve_device", "resolve_precision"]


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


def resolve_precision(spec: str, device: torch.device) -> str:
    """``auto`` → bf16 on CUDA devices that support it, fp32 elsewhere.

    Half precisions are CUDA-only here: CPU autocast slows most conv models down.
    """
    if spec == "auto":
        return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if spec in ("bf16", "fp16") and device.type != "cuda":
        raise ConfigError(f"precision '{spec}' needs a CUDA device (got {device})", "run.precision")
    return spec


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """Autocast for ``bf16``/``fp16``; a no-op for ``fp32``."""
    if precision == "fp32":
        yield
        return
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield
