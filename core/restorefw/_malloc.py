"""glibc allocator tuning for CPU inference and training of large models.

PyTorch's CPU tensors of a few MiB and up are mmap-ed and unmapped on every
allocation under glibc's default thresholds, so each layer pays for page
faults and zeroing. Raising the mmap and trim thresholds keeps that memory in
the heap for reuse (the effect of ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_``), at the cost of a higher resident size. Freed heap memory is not returned either,
so long-lived buffers of hundreds of MiB can pin it: :func:`mapped_allocations`
maps them again, for the code that allocates them, and :func:`trim_heap` gives free
heap pages back between phases of a long computation.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["mapped_allocations", "trim_heap", "tune_malloc"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_LIMIT = 2**31 - 1  # mallopt takes an int
_tuned: list[ctypes.CDLL] = []  # libc, once tune_malloc has raised the thresholds


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
    if ok and not _tuned:
        _tuned.append(libc)
    return {"applied": ok, "mmap_threshold": _LIMIT, "trim_threshold": _LIMIT}


@contextmanager
def mapped_allocations(threshold: int = 64 * 2**20) -> Iterator[None]:
    """Serve allocations of ``threshold`` bytes and more with mmap inside the block.

    For large buffers that outlive many smaller ones: once freed, their memory goes back to
    the system instead of staying in the heap around the smaller blocks. Nothing changes
    unless :func:`tune_malloc` raised the thresholds (glibc's defaults already map large
    blocks); the raised threshold is back in force after the block.
    """
    if not _tuned:
        yield
        return
    libc = _tuned[0]
    libc.mallopt(_M_MMAP_THRESHOLD, threshold)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, _LIMIT)


def trim_heap() -> None:
    """Give the free pages of the heap back to the system (glibc ``malloc_trim``), if tuned.

    For the boundaries between phases whose temporaries differ in size: without it, the
    tuned heap keeps the pages of every phase's temporaries. The pages cost a fault again
    when reused, so this is for phases of seconds, not for every layer.
    """
    if _tuned:
        _tuned[0].malloc_trim(0)
