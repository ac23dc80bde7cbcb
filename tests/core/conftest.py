"""Throw-away plugin distributions, installed for one test through the ``restorefw`` entry points."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

InstallPlugin = Callable[..., Path]


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InstallPlugin]:
    """``install_plugin(name, source)`` writes module ``name`` and a ``restorefw-<name>`` dist-info folder
    declaring it as entry point ``name`` into a folder put on ``sys.path``: what ``pip install`` leaves
    behind, as far as ``importlib.metadata`` can tell. Returns the folder (for a subprocess's PYTHONPATH).
    """
    installed: list[str] = []

    def install(name: str, source: str, version: str = "0.1.0") -> Path:
        # One folder per plugin: importlib.metadata caches a folder's listing by its modification time.
        site = tmp_path / f"site-{name}"
        site.mkdir()
        (site / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        dist = f"restorefw-{name.replace('_', '-')}"
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8")
        (info / "entry_points.txt").write_text(f"[restorefw]\n{name} = {name}\n", encoding="utf-8")
        monkeypatch.syspath_prepend(str(site))
        installed.append(name)
        return site

    yield install
    for name in installed:
        sys.modules.pop(name, None)
