"""Shared plumbing of the conformance checks: building the component under test,
its config checks, test images, generators and assertion messages."""

from __future__ import annotations

import json
import random
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import torch
from pydantic import BaseModel
from torch import Tensor

from restorefw._errors import ConfigError, RegistryError
from restorefw._recipe import dump_recipe
from restorefw._registry import Entry, Registry

__all__ = [
    "Built",
    "ContractError",
    "Source",
    "available_devices",
    "build_component",
    "close",
    "fail",
    "foreign_rng",
    "generator",
    "images",
    "require",
    "same",
]

Source = Registry | Entry
"""Where the component under test comes from: a registry (give its name) or one entry."""


class ContractError(AssertionError):
    """A component broke its hook's contract (an ``AssertionError``, so pytest reports it as a failure)."""


def require(condition: object, label: str, message: str) -> None:
    """Raise :class:`ContractError` ``"<label>: <message>"`` unless ``condition`` holds.

    An explicit raise rather than ``assert`` keeps the checks active under ``python -O``.
    """
    if not condition:
        raise ContractError(f"{label}: {message}")


def fail(label: str, message: str) -> NoReturn:
    """Raise :class:`ContractError` unconditionally."""
    raise ContractError(f"{label}: {message}")


@dataclass(frozen=True)
class Built:
    """A component built for a check, with what is needed to build it again."""

    component: Any
    label: str
    entry: Entry
    registry: Registry
    resolved: dict[str, Any]

    def rebuild(self) -> Any:
        """A fresh instance built from the same resolved parameters."""
        return self.registry.build(self.entry.kind, self.resolved)


def _target(source: Source, kind: str, spec: str | dict[str, Any] | None) -> tuple[Registry, str, dict[str, Any]]:
    base: dict[str, Any] = {}
    if isinstance(spec, dict):
        base = dict(spec)
        spec = base.pop("type", None)
    if isinstance(source, Entry):
        if source.kind != kind:
            raise TypeError(f"entry {source.kind} '{source.name}' given to the {kind} check")
        if spec is not None and spec != source.name:
            raise TypeError(f"entry '{source.name}' given with another name, '{spec}'")
        registry = Registry()
        registry.add(source)
        return registry, source.name, base
    if not isinstance(source, Registry):
        raise TypeError(f"expected a restorefw.Registry or Entry, got {type(source).__name__}")
    if not isinstance(spec, str):
        raise TypeError(f"name the {kind} to check: a string or a spec table with 'type'")
    return source, spec, base


def build_component(source: Source, kind: str, spec: str | dict[str, Any] | None, params: dict[str, Any]) -> Built:
    """Validate ``params`` through the registry, check the config contract and build the component."""
    registry, name, base = _target(source, kind, spec)
    try:
        entry = registry.get(kind, name)
    except RegistryError as exc:
        fail(f"{kind} '{name}'", str(exc))
    label = f"{kind} '{name}'" + (f" ({entry.origin})" if entry.plugin else "")
    try:
        resolved = registry.resolve(kind, {"type": name, **base, **params})
    except ConfigError as exc:
        fail(label, f"parameters rejected by its schema: {exc}")
    _check_config(registry, entry, resolved, label)
    try:
        component = registry.build(kind, resolved)
    except ConfigError as exc:
        fail(label, f"factory rejected validated parameters: {exc}")
    return Built(component, label, entry, registry, resolved)


def _check_config(registry: Registry, entry: Entry, resolved: dict[str, Any], label: str) -> None:
    """The schema is a pydantic model, its JSON Schema and resolved params serialise, and the
    resolved params survive the trip through ``recipe.resolved.toml`` unchanged."""
    require(
        isinstance(entry.schema, type) and issubclass(entry.schema, BaseModel),
        label,
        "has no pydantic config schema (register it with schema=YourConfig)",
    )
    try:
        json.dumps(entry.json_schema())
    except Exception as exc:
        fail(label, f"config schema has no JSON Schema (use JSON-compatible field types): {exc}")
    try:
        json.dumps(resolved)
    except (TypeError, ValueError) as exc:
        fail(label, f"resolved parameters are not JSON-serialisable: {exc}")
    # Compared with a second in-memory resolution rather than ``resolved`` itself: a nested
    # component left at its default name is only expanded when resolved again.
    expected = registry.resolve(entry.kind, resolved)
    try:
        reloaded = tomllib.loads(dump_recipe({"component": resolved}))["component"]
        again = registry.resolve(entry.kind, reloaded)
    except Exception as exc:
        fail(label, f"resolved parameters do not survive a TOML round trip: {exc}")
    require(
        json.dumps(again, sort_keys=True) == json.dumps(expected, sort_keys=True),
        label,
        f"resolved parameters change after a TOML round trip: {expected} -> {again}",
    )


def available_devices(devices: Sequence[str] | None = None) -> list[str]:
    """``devices`` if given, else ``["cpu"]`` plus ``"cuda"`` when a GPU is available."""
    if devices is not None:
        return list(devices)
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (the engine always passes CPU generators)."""
    return torch.Generator().manual_seed(seed)


def images(shape: Sequence[int], seed: int = 0, dtype: torch.dtype = torch.float32) -> Tensor:
    """Smooth-ish random test images in [0, 1]: uniform noise plus a gradient, so that
    blurring or compressing them changes something."""
    b, c, h, w = shape
    noise = torch.rand((b, c, h, w), generator=generator(seed), dtype=torch.float64)
    ramp = torch.linspace(0, 1, w, dtype=torch.float64).expand(b, c, h, w)
    return (0.5 * noise + 0.5 * ramp).to(dtype)


@contextmanager
def foreign_rng(seed: int) -> Iterator[None]:
    """Reseed the global RNGs (torch, numpy, random), restoring them afterwards.

    Running a component twice with the same generator but differently seeded
    global RNGs exposes components that draw from the global state.
    """
    import numpy as np

    torch_state, np_state, py_state = torch.get_rng_state(), np.random.get_state(), random.getstate()
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    try:
        yield
    finally:
        torch.set_rng_state(torch_state)
        np.random.set_state(np_state)
        random.setstate(py_state)


def same(a: Any, b: Any) -> bool:
    """Exact equality of tensors or (nested) sequences of tensors."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def close(a: Any, b: Any, atol: float, rtol: float = 1e-3) -> bool:
    """Approximate equality of tensors or sequences of tensors (compared on the CPU, in float64)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(close(x, y, atol, rtol) for x, y in zip(a, b, strict=True))
    a, b = a.detach().cpu().double(), b.detach().cpu().double()
    return a.shape == b.shape and bool(torch.allclose(a, b, atol=atol, rtol=rtol, equal_nan=True))
