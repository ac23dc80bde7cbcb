"""Plugin loading: entry points in group ``restorefw``, one at a time.

A plugin that fails to import, targets another API version, breaks a hook or
registers a name that is already taken is recorded as a :class:`PluginFailure`
and the others keep working, unless strict mode asks to raise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from restorefw import _builtins, hookspecs
from restorefw._errors import PluginError, RegistryError
from restorefw._registry import PARTS, Entry, Registry
from restorefw._schema import schema_from_signature

if TYPE_CHECKING:
    from restorefw.ops import OpRegistry

__all__ = [
    "API_VERSION",
    "HOOK_KINDS",
    "PluginFailure",
    "PluginInfo",
    "PluginManager",
    "build_op_registry",
    "build_registry",
    "get_plugin_manager",
]

API_VERSION = 1
"""Major version of the plugin API; a plugin may declare ``RESTOREFW_API_VERSION``."""

HOOK_KINDS: dict[str, str] = {
    "register_datasets": "dataset",
    "register_degradations": "degradation",
    "register_heads_tails": "",
    "register_kernels": "kernel",
    "register_loggers": "logger",
    "register_losses": "loss",
    "register_metrics": "metric",
    "register_models": "model",
    "register_optimizers": "optimizer",
    "register_schedulers": "scheduler",
    "register_strategies": "strategy",
    "register_tasks": "task",
}
"""Hook name → component kind (heads and tails take theirs from ``part``).

``register_ops`` is not here: ops are no components; :func:`build_op_registry` collects them."""

@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be (fully) used."""

    name: str
    distribution: str
    version: str
    error: str


@dataclass
class PluginInfo:
    """A loaded plugin and what it registered."""

    name: str
    distribution: str
    version: str
    module: str
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)


class PluginManager(pluggy.PluginManager):
    """pluggy manager that remembers where plugins came from and what failed."""

    def __init__(self, strict: bool = False) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.strict = strict
        self.failures: list[PluginFailure] = []
        self.info: dict[str, PluginInfo] = {}

    def add_plugin(self, module: ModuleType | Any, name: str, distribution: str = "", version: str = "") -> None:
        """Register one plugin object, checking its declared API version."""
        wanted = getattr(module, "RESTOREFW_API_VERSION", API_VERSION)
        if wanted != API_VERSION:
            self.fail(name, distribution, version,
                      f"needs plugin API version {wanted}, this restorefw has {API_VERSION}")
            return
        self.register(module, name=name)
        hooks = sorted(h.name for h in self.get_hookcallers(module) or ())
        self.info[name] = PluginInfo(name, distribution, version, getattr(module, "__name__", repr(module)), hooks)

    def fail(self, name: str, distribution: str, version: str, error: str) -> None:
        """Record a failure; in strict mode raise it instead."""
        failure = PluginFailure(name, distribution, version, error)
        if self.strict:
            raise PluginError(f"plugin '{name}' ({distribution} {version}): {error}".replace(" ()", ""))
        self.failures.append(failure)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def get_plugin_manager(
    load_entrypoints: bool = True,
    only: Iterable[str] | None = None,
    strict: bool | None = None,
    plugins: Iterable[tuple[str, Any]] = (),
) -> PluginManager:
    """Create a fresh plugin manager (there is no global one).

    Args:
        load_entrypoints: load the ``restorefw`` entry-point group.
        only: entry-point or distribution names to load; defaults to
            ``RESTOREFW_LOAD_PLUGINS`` (comma-separated; set but empty = none).
        strict: raise on the first plugin problem; defaults to ``RESTOREFW_STRICT_PLUGINS``.
        plugins: extra ``(name, module_or_object)`` plugins, e.g. test doubles.
    """
    pm = PluginManager(strict=_env_flag("RESTOREFW_STRICT_PLUGINS") if strict is None else strict)
    pm.add_plugin(_builtins, "core", "restorefw", _version("restorefw"))
    if only is None and "RESTOREFW_LOAD_PLUGINS" in os.environ:
        only = [s.strip() for s in os.environ["RESTOREFW_LOAD_PLUGINS"].split(",") if s.strip()]
    wanted = None if only is None else set(only)
    if load_entrypoints:
        for ep in sorted(metadata.entry_points(group=hookspecs.PROJECT), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist else ""
            version = ep.dist.version if ep.dist else ""
            if wanted is not None and ep.name not in wanted and dist not in wanted:
                continue
            if pm.has_plugin(ep.name) or ep.name in pm.info:
                pm.fail(ep.name, dist, version, f"entry point name '{ep.name}' is already used by another plugin")
                continue
            try:
                module = ep.load()
            except Exception as exc:
                pm.fail(ep.name, dist, version, f"import of '{ep.value}' failed: {type(exc).__name__}: {exc}")
                continue
            pm.add_plugin(module, ep.name, dist, version)
    for name, obj in plugins:
        pm.add_plugin(obj, name, "", "")
    return pm


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def build_registry(pm: PluginManager) -> Registry:
    """Call every plugin's hooks, one plugin at a time, and collect their components."""
    registry = Registry()
    for hook_name, kind in HOOK_KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            info = pm.info.get(impl.plugin_name)
            if info is None:
                continue
            try:
                impl.function(register=_make_register(registry, kind, hook_name, info))
            except (RegistryError, PluginError) as exc:
                pm.fail(info.name, info.distribution, info.version, f"{hook_name}: {exc}")
            except Exception as exc:
                pm.fail(info.name, info.distribution, info.version, f"{hook_name} raised {type(exc).__name__}: {exc}")
    return registry


def build_op_registry(pm: PluginManager) -> OpRegistry:
    """Collect the core's ops and every plugin's ``register_ops``, one plugin at a time.

    A plugin whose hook raises, or whose overrides have no reference, is recorded as a failure.
    """
    from restorefw.ops import OpRegistry, register_core_ops

    registry = OpRegistry()
    register_core_ops(registry.register_for("core", "restorefw", _version("restorefw")))
    for impl in pm.hook.register_ops.get_hookimpls():
        info = pm.info.get(impl.plugin_name)
        if info is None:
            continue
        try:
            impl.function(register=registry.register_for(info.name, info.distribution, info.version))
        except (RegistryError, PluginError) as exc:
            pm.fail(info.name, info.distribution, info.version, f"register_ops: {exc}")
        except Exception as exc:
            pm.fail(info.name, info.distribution, info.version, f"register_ops raised {type(exc).__name__}: {exc}")
    for orphan in registry.orphans():
        pm.fail(orphan.plugin, orphan.distribution, orphan.version,
                f"register_ops: override '{orphan.name}' of op '{orphan.op}', which no plugin gives a reference for")
    return registry


def _make_register(registry: Registry, kind: str, hook_name: str, info: PluginInfo) -> hookspecs.Register:
    def register(
        name: str,
        factory: Any,
        *,
        schema: Any = None,
        description: str = "",
        license: str | None = None,
        paper: str | None = None,
        part: str | None = None,
        importer: Any = None,
        zero_shot: Any = None,
        tags: dict[str, Any] | None = None,
    ) -> None:
        tags = dict(tags or {})
        part = part or tags.pop("part", None)
        if importer is None and "infer_spec" in tags:
            from restorefw.weights import Importer

            importer = Importer(tags.pop("infer_spec"))
        zero_shot = zero_shot or tags.pop("zero_shot", None)
        entry_kind = kind or (part if part in ("head", "tail") else "")
        if not entry_kind:
            raise PluginError(f"'{name}' needs part='head' or part='tail'")
        if part is not None and part not in PARTS:
            raise PluginError(f"'{name}': part must be one of {', '.join(PARTS)}, got {part!r}")
        if not callable(factory):
            raise PluginError(f"factory of {entry_kind} '{name}' is not callable")
        entry = Entry(
            kind=entry_kind,
            name=name,
            factory=factory,
            schema=schema or schema_from_signature(factory, name),
            plugin=info.name,
            distribution=info.distribution,
            version=info.version,
            license=license,
            paper=paper,
            description=description or (factory.__doc__ or "").strip().split("\n")[0],
            part=part,
            importer=importer,
            zero_shot=zero_shot,
            tags=tags,
        )
        registry.add(entry)
        info.registered.setdefault(entry_kind, []).append(name)

    return register
