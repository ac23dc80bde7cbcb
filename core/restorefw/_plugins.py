"""One plugin at a time: its checks against the hook specifications, and the manager that registers it.

:class:`PluginManager` is pluggy's manager with memory: where each plugin came from, what it
registered, and every :class:`PluginFailure`, each naming the plugin, the hook and its definition.
Loading entry points and collecting components is :mod:`restorefw._manager`'s work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import pluggy

from restorefw import hookspecs
from restorefw._errors import PluginError
from restorefw._hookcheck import check_hooks

__all__ = ["API_VERSION", "PluginFailure", "PluginInfo", "PluginManager", "StrictFailure", "where"]

API_VERSION = 1
"""Major version of the plugin API; a plugin may declare ``RESTOREFW_API_VERSION``."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be (fully) used.

    Attributes:
        error: what went wrong, in one line (naming the hook and its definition when one is at fault).
        hook: the hook at fault, if any.
        definition: the hook function's signature and location, if known.
        level: ``"error"`` (the plugin, or some of its components, are missing) or ``"warning"``
            (it loaded, but looks wrong: it registered nothing).
    """

    name: str
    distribution: str
    version: str
    error: str
    hook: str = ""
    definition: str = ""
    level: Literal["error", "warning"] = "error"


class StrictFailure(PluginError):
    """A failure raised in strict mode; passed on untouched by the code that records failures."""


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
        """Register one plugin object after checking its API version and its hooks.

        A hook with a signature the host cannot call keeps the whole plugin out; a misspelt or
        unmarked hook is recorded while the plugin's other hooks still load.
        """
        wanted = getattr(module, "RESTOREFW_API_VERSION", API_VERSION)
        if wanted != API_VERSION:
            self.fail(name, distribution, version,
                      f"needs plugin API version {wanted}, this restorefw has {API_VERSION}")
            return
        problems = check_hooks(module, lambda plugin, attr: self.parse_hookimpl_opts(plugin, attr) is not None)
        fatal = [p for p in problems if p.fatal]
        for problem in problems:
            self.fail(name, distribution, version, f"{where(problem.hook, problem.definition)} {problem.message}",
                      hook=problem.hook, definition=problem.definition)
        if fatal:
            return
        try:
            self.register(module, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self.fail(name, distribution, version, " ".join(str(exc).split()))
            return
        hooks = sorted(h.name for h in self.get_hookcallers(module) or () if h.has_spec())
        self.info[name] = PluginInfo(name, distribution, version, getattr(module, "__name__", repr(module)), hooks)

    def fail(self, name: str, distribution: str, version: str, error: str, *, hook: str = "",
             definition: str = "", level: Literal["error", "warning"] = "error") -> None:
        """Record a failure; in strict mode raise it instead."""
        failure = PluginFailure(name, distribution, version, error, hook, definition, level)
        if self.strict:
            origin = f"{distribution} {version}".strip()
            raise StrictFailure(f"plugin '{name}'" + (f" ({origin})" if origin else "") + f": {error}")
        self.failures.append(failure)

    def status(self, name: str) -> str:
        """``"error"``, ``"warning"`` or ``"ok"``: the worst failure recorded for a plugin."""
        levels = {f.level for f in self.failures if f.name == name}
        return "error" if "error" in levels else "warning" if levels else "ok"


def where(hook: str, definition: str) -> str:
    """``hook NAME (definition)``: how every failure names the hook at fault."""
    return f"hook {hook} ({definition})" if definition else f"hook {hook}"
