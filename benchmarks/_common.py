"""Shared helpers for benchmark scripts: environment facts and isolated measurements."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from typing import Any

__all__ = ["environment", "run_isolated"]

_ALLOCATOR_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "LD_PRELOAD", "PYTORCH_CUDA_ALLOC_CONF")


def environment() -> dict[str, Any]:
    """Versions, threads, device and allocator settings the numbers were measured with."""
    import torch

    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "allocator": {k: os.environ.get(k) for k in _ALLOCATOR_VARS},
    }


def run_isolated(code: str, env: dict[str, str] | None = None, timeout: float = 3600) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter (so peak RSS is its own); it must print one JSON object last."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})})
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])
