from __future__ import annotations

import platform

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
