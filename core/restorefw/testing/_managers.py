"""Fresh plugin managers and registries holding only the plugins a test names."""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import Any

from restorefw._manager import PluginManager, build_registry, get_plugin_manager
from restorefw._registry import Registry

__all__ = ["plugin_manager", "registry_with"]


def _named(plugin: Any) -> tuple[str, Any]:
    if isinstance(plugin, tuple):
        name, obj = plugin
        return str(name), obj
    if isinstance(plugin, ModuleType):
        return plugin.__name__, plugin
    return str(getattr(plugin, "name", type(plugin).__name__)), plugin


def plugin_manager(
    *plugins: Any, load_entrypoints: bool = False, only: Iterable[str] | None = None, strict: bool = True
) -> PluginManager:
    """A fresh plugin manager with the core's built-ins and ``plugins`` only.

    Args:
        *plugins: plugin modules, objects with hook implementations (named by their
            ``name`` attribute or class name), or ``(name, plugin)`` pairs.
        load_entrypoints: also load the installed ``restorefw`` entry points.
        only: with ``load_entrypoints``, the entry-point or distribution names to load
            (default: all, or ``RESTOREFW_LOAD_PLUGINS`` when set).
        strict: raise :class:`restorefw.PluginError` on any plugin problem instead of
            recording it in ``manager.failures`` (a test wants to see it).
    """
    named = [_named(p) for p in plugins]
    return get_plugin_manager(load_entrypoints=load_entrypoints, only=only, strict=strict, plugins=named)


def registry_with(
    *plugins: Any, load_entrypoints: bool = False, only: Iterable[str] | None = None, strict: bool = True
) -> Registry:
    """The registry of :func:`plugin_manager` with the same arguments.

    Example:
        ``registry = registry_with(my_plugin)``, then
        ``check_degradation(registry, "jpeg", quality=(30, 90))``; or the installed
        plugins a composition needs: ``registry_with(load_entrypoints=True, only=["basic", "jpeg"])``.
    """
    return build_registry(plugin_manager(*plugins, load_entrypoints=load_entrypoints, only=only, strict=strict))
