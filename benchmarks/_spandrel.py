"""spandrel's Restormer, an independent eager implementation to time restorefw against (optional).

spandrel ships Restormer in its ``spandrel-extra-arches`` distribution (non-commercial
licence). Importing ``spandrel`` imports every architecture it knows, some of which need
torchvision; where torchvision is missing (CPU-only torch builds without a matching
torchvision wheel), the Restormer file is loaded on its own, with the one helper module it
uses. Nothing is downloaded: without the distributions the cases report ``skipped``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["spandrel_restormer_class"]

_ARCH = "architectures/Restormer/__arch/restormer_arch.py"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _standalone() -> type[Any]:
    """The Restormer class from its file, with ``spandrel.util`` loaded alone for the duration."""
    extra = importlib.util.find_spec("spandrel_extra_arches")
    core = importlib.util.find_spec("spandrel")
    if extra is None or core is None or not extra.submodule_search_locations or not core.submodule_search_locations:
        raise ImportError("spandrel and spandrel-extra-arches are not installed")
    util = _load("spandrel.util", Path(core.submodule_search_locations[0]) / "util" / "__init__.py")
    # The arch file imports spandrel.util; with that name already in sys.modules, Python does
    # not import the spandrel package (and its torchvision-dependent architectures) first.
    sys.modules["spandrel.util"] = util
    try:
        arch = _load("_restorefw_bench_spandrel_restormer", Path(extra.submodule_search_locations[0]) / _ARCH)
    finally:
        del sys.modules["spandrel.util"]
    return arch.Restormer


def spandrel_restormer_class() -> tuple[type[Any] | None, str]:
    """spandrel's ``Restormer`` class and its version, or ``None`` and why it is unavailable."""
    try:
        with warnings.catch_warnings():
            # Some of spandrel's other architectures use deprecated torch.jit APIs at import.
            warnings.simplefilter("ignore", DeprecationWarning)
            module = importlib.import_module("spandrel_extra_arches.architectures.Restormer.__arch.restormer_arch")
        cls = module.Restormer
    except ImportError:
        try:
            cls = _standalone()
        except (ImportError, OSError, AttributeError) as exc:
            return None, f"spandrel's Restormer is unavailable: {exc}"
    from importlib.metadata import PackageNotFoundError, version

    try:
        return cls, f"spandrel-extra-arches {version('spandrel-extra-arches')}"
    except PackageNotFoundError:
        return cls, "spandrel-extra-arches"
