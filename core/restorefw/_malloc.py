"""glibc allocator tuning for CPU inference and training of large models.

PyTorch's CPU tensors of a few MiB and up are mmap-ed and unmapped on every
allocation under glibc's default thresholds, so each layer pays for page
faults and zeroing. Raising the mmap and trim thresholds keeps that memory in
the heap for reuse (the effect of ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_``), at the cost of a higher resident size.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

__all__ = ["tune_malloc"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_LIMIT = 2**31 - 1  # mallopt takes an int


def tune_malloc() -> dict[str, object]:
    """Raise glibc's mmap/trim thresholds unless the user chose allocator settings.

    Skipped on non-glibc systems, when ``MALLOC_MMAP_THRESHOLD_`` or
    ``MALLOC_TRIM_THRESHOLD_`` is set, or when ``RESTOREFW_MALLOC=0``.

    Returns:
        What was done, for benchmark reports.
    """
    if os.environ.get("RESTOREFW_MALLOC", "1") == "0":
        return {"applied": False, "reason": "RESTOREFW_MALLOC=0"}
    if any(k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return {"applied": False, "reason": "MALLOC_* set in the environment"}
    if platform.libc_ver()[0] != "glibc":
        return {"applied": False, "reason": "not glibc"}
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    ok = libc.mallopt(_M_MMAP_THRESHOLD, _LIMIT) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, _LIMIT) == 1
    return {"applied": ok, "mmap_threshold": _LIMIT, "trim_threshold": _LIMIT}
