"""restorefw: a plugin-based image-restoration framework.

The public surface is listed in ``__all__``. Only the exception classes are
imported eagerly; every other name loads on first use, so that the CLI starts
without importing torch or pydantic.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import lazy_loader

from restorefw import _defaults
from restorefw._errors import (
    CheckpointError,
    ConfigError,
    DataError,
    PluginError,
    RecipeError,
    RegistryError,
    RestorefwError,
    RunError,
)

if TYPE_CHECKING:
    from restorefw._builder import build_model, load_model
    from restorefw._manager import (
        API_VERSION,
        PluginFailure,
        PluginInfo,
        build_op_registry,
        build_registry,
        get_plugin_manager,
    )
    from restorefw._recipe import apply_overrides, dump_recipe, load_recipe, resolve_recipe
    from restorefw._registry import KINDS, Entry, Registry
    from restorefw._schema import ComponentField, StrictModel
    from restorefw._task import Task
    from restorefw.engine import Batch, Runner, StepContext, Strategy
    from restorefw.hookspecs import Register, hookimpl
    from restorefw.ops import OpRegistry

__version__ = "0.1.0"

__all__ = [
    "API_VERSION",
    "Batch",
    "CheckpointError",
    "ComponentField",
    "ConfigError",
    "DataError",
    "Entry",
    "KINDS",
    "PluginError",
    "PluginFailure",
    "PluginInfo",
    "RecipeError",
    "Register",
    "Registry",
    "RegistryError",
    "RestorefwError",
    "RunError",
    "Runner",
    "StepContext",
    "Strategy",
    "StrictModel",
    "Task",
    "__version__",
    "apply_overrides",
    "build_model",
    "build_op_registry",
    "build_registry",
    "create",
    "default_registry",
    "dump_recipe",
    "get_plugin_manager",
    "hookimpl",
    "list_components",
    "load_model",
    "load_recipe",
    "resolve_recipe",
]

# Imported on first use, so that ``restorefw --help`` loads neither torch nor pydantic.
__getattr__ = lazy_loader.attach(__name__, submod_attrs={
    "_manager": ["API_VERSION", "PluginFailure", "PluginInfo", "build_op_registry", "build_registry",
                 "get_plugin_manager"],
    "_recipe": ["apply_overrides", "dump_recipe", "load_recipe", "resolve_recipe"],
    "_registry": ["KINDS", "Entry", "Registry"],
    "_schema": ["ComponentField", "StrictModel"],
    "_builder": ["build_model", "load_model"],
    "_task": ["Task"],
    "hookspecs": ["Register", "hookimpl"],
    "engine": ["Batch", "Runner", "StepContext", "Strategy"],
})[0]


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """Registry of every installed plugin, built once (``default_registry.cache_clear()`` resets it)."""
    from restorefw._manager import build_registry, get_plugin_manager

    return build_registry(get_plugin_manager())


def _installed_ops() -> OpRegistry:
    from restorefw._manager import build_op_registry, get_plugin_manager

    return build_op_registry(get_plugin_manager())


# The op registry sits below the plugin manager; the default it falls back on is wired here.
_defaults.provide("op_registry", _installed_ops)


def create(kind: str, spec: Any = None, /, **params: Any) -> Any:
    """Build a registered component from the default registry (a model with its ``checkpoint`` files).

    Example:
        ``restorefw.create("metric", "psnr", crop_border=4, y_channel=True)(pred, target)``
    """
    from restorefw._builder import checkpoint_loader

    return default_registry().create(kind, spec, on_built=checkpoint_loader() if kind == "model" else None, **params)


def list_components(kind: str | None = None, pattern: str | None = None) -> list[Entry]:
    """Registered components of ``kind`` whose names match the glob ``pattern``."""
    return default_registry().list(kind, pattern)
