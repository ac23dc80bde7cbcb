from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from restorefw._malloc import tune_malloc


def test_respects_user_settings(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert tune_malloc() == {"applied": False, "reason": "MALLOC_* set in the environment"}
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    monkeypatch.setenv("RESTOREFW_MALLOC", "0")
    assert tune_malloc()["applied"] is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_applies_on_glibc(monkeypatch):
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "RESTOREFW_MALLOC"):
        monkeypatch.delenv(name, raising=False)
    assert tune_malloc()["applied"] is True


_MAPPED = """
import torch
from restorefw._malloc import mapped_allocations, tune_malloc

def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

assert tune_malloc()["applied"]
base = rss_mb()
with mapped_allocations():
    big = torch.ones(50 * 2**20)
del big
mapped = rss_mb() - base
big = torch.ones(50 * 2**20)
del big
print(mapped, rss_mb() - base)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_mapped_allocations_return_memory_when_freed(monkeypatch):
    """A freed 200 MB tensor stays resident with the tuned heap, unless it was allocated mapped."""
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "RESTOREFW_MALLOC"):
        monkeypatch.delenv(name, raising=False)
    result = subprocess.run([sys.executable, "-c", _MAPPED], capture_output=True, text=True, check=True)
    mapped, heap = (float(v) for v in result.stdout.split())
    assert mapped < 20 and heap > 150
