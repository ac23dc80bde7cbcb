"""Defaults that a lower floor uses and the package root provides.

The op registry (floor 2) needs the ops of the installed plugins when no registry is in force,
but loading plugins is the plugin manager's job, several floors up. The package root, which may
import any floor, provides that default here; the lower floor only asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from restorefw._errors import RegistryError

__all__ = ["provide", "provided"]

_PROVIDERS: dict[str, Callable[[], Any]] = {}


def provide(name: str, factory: Callable[[], Any]) -> None:
    """Install the factory of the default ``name`` (the last one installed wins)."""
    _PROVIDERS[name] = factory


def provided(name: str) -> Any:
    """Build the default ``name`` through its installed factory.

    Raises:
        RegistryError: nothing provides it.
    """
    try:
        factory = _PROVIDERS[name]
    except KeyError:
        raise RegistryError(f"nothing provides a default {name}; import restorefw first") from None
    return factory()
