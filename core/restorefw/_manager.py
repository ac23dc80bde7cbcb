"""Plugin loading: entry points in group ``restorefw``, one at a time.

Each plugin is loaded and validated on its own. A plugin that fails to import, targets another
API version, defines a hook with the wrong signature, misspells a hook, leaves a hook-named
function unmarked, raises in a hook, registers something that cannot be built, registers a name
that is already taken or registers nothing is recorded as a :class:`PluginFailure` of that plugin
(naming the hook and its definition) and the others keep working, unless strict mode asks to raise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from importlib import metadata
from typing import TYPE_CHECKING, Any

from restorefw import _builtins, hookspecs
from restorefw._catalog import WeightsEntry
from restorefw._errors import ConfigError, PluginError, RegistryError
from restorefw._hookcheck import definition
from restorefw._plugins import API_VERSION, PluginFailure, PluginInfo, PluginManager, StrictFailure, where
from restorefw._registry import PARTS, Entry, Registry
from restorefw._schema import checked_schema

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

HOOK_KINDS: dict[str, str] = {
    "register_datasets": "dataset",
    "register_degradations": "degradation",
    "register_heads_tails": "",
    "register_kernels": "kernel",
    "register_layouts": "layout",
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
    """Call every plugin's hooks, one plugin at a time, and collect their components.

    A component that cannot be registered, a hook that raises and a plugin that registers
    nothing are recorded as that plugin's failures; the rest of the plugin still registers.
    """
    registry = Registry()
    for hook_name, kind in HOOK_KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            info = pm.info.get(impl.plugin_name)
            if info is not None:
                register = _make_register(pm, registry, kind, hook_name, definition(impl.function), info)
                _call_hook(pm, impl.function, hook_name, info, register)
    _collect_weights(pm, registry)
    for info in pm.info.values():
        if info.name != "core" and not info.registered and "register_ops" not in info.hooks \
                and pm.status(info.name) == "ok":
            what = f"its hooks ({', '.join(info.hooks)}) never called register" if info.hooks else \
                "it has no function marked with @restorefw.hookimpl"
            pm.fail(info.name, info.distribution, info.version, f"registered no components: {what}",
                    level="warning")
    return registry


def _call_hook(pm: PluginManager, function: Any, hook_name: str, info: PluginInfo, register: Any) -> None:
    """Call one hook implementation; whatever it raises becomes its plugin's failure."""
    try:
        function(register=register)
    except StrictFailure:
        raise
    except Exception as exc:
        hook_def = definition(function)
        pm.fail(info.name, info.distribution, info.version,
                f"{where(hook_name, hook_def)} raised {type(exc).__name__}: {_one_line(exc)}",
                hook=hook_name, definition=hook_def)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _collect_weights(pm: PluginManager, registry: Registry) -> None:
    """Every plugin's ``register_weights`` into ``registry.weights``, after all models are registered."""
    for impl in pm.hook.register_weights.get_hookimpls():
        info = pm.info.get(impl.plugin_name)
        if info is not None:
            register = _make_register_weights(pm, registry, definition(impl.function), info)
            _call_hook(pm, impl.function, "register_weights", info, register)


def _make_register_weights(pm: PluginManager, registry: Registry, hook_def: str,
                           info: PluginInfo) -> hookspecs.RegisterWeights:
    """The ``register`` callback of one plugin's ``register_weights``; an entry that does not fit is
    recorded as the plugin's failure and skipped."""

    def register(entry: WeightsEntry) -> None:
        try:
            if not isinstance(entry, WeightsEntry):
                raise PluginError("register_weights takes a restorefw.weights.WeightsEntry, got "
                                  f"{type(entry).__name__}")
            try:
                registry.resolve("model", entry.model_spec)
            except ConfigError as exc:
                problems = str(exc).replace("\n", "; ")
                raise PluginError(f"weights '{entry.name}' do not fit model '{entry.model}': {problems}") from None
            registry.weights.add(entry.model_copy(update={"plugin": info.name}))
        except (RegistryError, PluginError) as exc:
            pm.fail(info.name, info.distribution, info.version, f"{where('register_weights', hook_def)}: {exc}",
                    hook="register_weights", definition=hook_def)
            return
        info.registered.setdefault("weights", []).append(entry.name)

    return register


def build_op_registry(pm: PluginManager) -> OpRegistry:
    """Collect the core's ops and every plugin's ``register_ops``, one plugin at a time.

    A plugin whose hook raises, or whose overrides have no reference, is recorded as a failure.
    """
    from restorefw.ops import OpRegistry, register_core_ops

    registry = OpRegistry()
    register_core_ops(registry.register_for("core", "restorefw", _version("restorefw")))
    for impl in pm.hook.register_ops.get_hookimpls():
        info = pm.info.get(impl.plugin_name)
        if info is not None:
            _call_hook(pm, impl.function, "register_ops", info,
                       registry.register_for(info.name, info.distribution, info.version))
    for orphan in registry.orphans():
        pm.fail(orphan.plugin, orphan.distribution, orphan.version,
                f"register_ops: override '{orphan.name}' of op '{orphan.op}', which no plugin gives a reference for")
    return registry


def _make_register(pm: PluginManager, registry: Registry, kind: str, hook_name: str, hook_def: str,
                   info: PluginInfo) -> hookspecs.Register:
    """The ``register`` callback of one hook of one plugin (``hook_def``: the hook's definition).

    A component that cannot be registered is recorded as the plugin's failure and skipped, so the
    plugin's other components still register (in strict mode the failure is raised).
    """

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
        try:
            if not entry_kind:
                raise PluginError(f"'{name}' needs part='head' or part='tail'")
            if part is not None and part not in PARTS:
                raise PluginError(f"'{name}': part must be one of {', '.join(PARTS)}, got {part!r}")
            entry = _entry(entry_kind, name, factory, checked_schema(entry_kind, name, factory, schema), info,
                           license=license, paper=paper, description=description, part=part, importer=importer,
                           zero_shot=zero_shot, tags=tags)
            registry.add(entry)
        except (RegistryError, PluginError) as exc:
            pm.fail(info.name, info.distribution, info.version, f"{where(hook_name, hook_def)}: {exc}",
                    hook=hook_name, definition=hook_def)
            return
        info.registered.setdefault(entry_kind, []).append(name)

    return register


def _entry(kind: str, name: str, factory: Any, schema: Any, info: PluginInfo, **meta: Any) -> Entry:
    description = meta.pop("description") or (getattr(factory, "__doc__", None) or "").strip().split("\n")[0]
    return Entry(kind=kind, name=name, factory=factory, schema=schema, plugin=info.name,
                 distribution=info.distribution, version=info.version, description=description, **meta)
