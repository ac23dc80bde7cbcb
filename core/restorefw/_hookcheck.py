"""Checks of one plugin object against the hook specifications, before it is registered.

pluggy would raise a multi-line ``PluginValidationError`` for a hook with a wrong signature (and
take every command down with it), accept a misspelt hook name without a word, and never see a
function named like a hook that lacks ``@hookimpl``. These checks find all three and describe each
in one line naming the hook and its definition, so the manager records them as that plugin's failure.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from restorefw import hookspecs

__all__ = ["HOOK_NAMES", "HookProblem", "check_hooks", "definition"]

HOOK_NAMES: tuple[str, ...] = tuple(sorted(
    name for name, fn in vars(hookspecs).items() if getattr(fn, f"{hookspecs.PROJECT}_spec", None) is not None
))
"""Every hook restorefw calls."""

_IMPL_MARK = f"{hookspecs.PROJECT}_impl"


@dataclass(frozen=True)
class HookProblem:
    """What is wrong with one hook of a plugin.

    Attributes:
        hook: the hook (or attribute) name.
        definition: the function's signature and where it is defined.
        message: what is wrong, in one line.
        fatal: the plugin cannot be registered at all (pluggy would refuse it); otherwise only
            this hook is lost.
    """

    hook: str
    definition: str
    message: str
    fatal: bool = False


def definition(fn: Callable[..., Any]) -> str:
    """``name(signature) at file:line`` of a function, as far as it can be told."""
    target = inspect.unwrap(getattr(fn, "__func__", fn))
    name = getattr(target, "__name__", repr(target))
    try:
        text = f"{name}{inspect.signature(target)}"
    except (TypeError, ValueError):
        text = name
    code = getattr(target, "__code__", None)
    try:
        source = inspect.getsourcefile(target) if code is not None else None
    except TypeError:
        source = None
    return f"{text} at {source}:{code.co_firstlineno}" if source and code is not None else text


def _spec_signature(hook: str) -> str:
    return f"{hook}{inspect.signature(getattr(hookspecs, hook))}".replace("'", "")


def _signature_problem(hook: str, fn: Callable[..., Any]) -> str | None:
    """Why ``fn`` cannot be called as the host calls it, ``fn(register=...)``; None if it can."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(register=None)
    except TypeError:
        params = [p.name for p in signature.parameters.values()]
        return (f"takes ({', '.join(params)}) but the host calls it with one argument, 'register' "
                f"(the specification is {_spec_signature(hook)})")
    return None


def check_hooks(plugin: Any, is_impl: Callable[[Any, str], bool]) -> list[HookProblem]:
    """Every hook problem of ``plugin`` (a module or an object with hook methods).

    Args:
        plugin: the plugin object.
        is_impl: ``is_impl(plugin, attribute)`` tells whether an attribute is marked as a hook
            implementation (the plugin manager's own rule).
    """
    problems: list[HookProblem] = []
    for attr in dir(plugin):
        # Looked up statically, as pluggy does, so that no property of a plugin object runs.
        value = inspect.getattr_static(plugin, attr, None)
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if not inspect.isroutine(value):
            continue
        fn = getattr(plugin, attr)
        if is_impl(plugin, attr):
            options = getattr(fn, _IMPL_MARK, {}) or {}
            hook = options.get("specname") or attr
            if hook not in HOOK_NAMES:
                close = difflib.get_close_matches(hook, HOOK_NAMES, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'?" if close else f"hooks: {', '.join(HOOK_NAMES)}"
                problems.append(HookProblem(hook, definition(fn), f"is not a restorefw hook, so it is never called "
                                            f"({hint})"))
                continue
            why = _signature_problem(hook, fn)
            if why is not None:
                problems.append(HookProblem(hook, definition(fn), why, fatal=True))
        elif attr in HOOK_NAMES:
            problems.append(HookProblem(attr, definition(fn), "is named like a hook but not marked with "
                                        "@restorefw.hookimpl, so it is never called"))
    return problems
