"""The op registry: per op, one reference and any number of overrides, and the choice between them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import torch

from restorefw._errors import ConfigError, PluginError, RegistryError
from restorefw._hints import did_you_mean
from restorefw.hookspecs import Register
from restorefw.ops._policy import OpsPolicy
from restorefw.ops._spec import Implementation, Op, Override, Reference

__all__ = ["OpRegistry"]

_OP_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_IMPL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class OpRegistry:
    """Ops collected from the ``register_ops`` hooks (see :func:`restorefw.ops.build_op_registry`).

    Separate from the component :class:`restorefw.Registry`: an op is not built from a
    config, it is a function chosen per device once a model is built.
    """

    def __init__(self) -> None:
        self._ops: dict[str, Op] = {}
        self._waiting: dict[str, list[Implementation]] = {}
        self._choices: dict[tuple[str, str, torch.dtype, OpsPolicy], Implementation] = {}
        self._checked: set[OpsPolicy] = set()

    def __deepcopy__(self, memo: dict[int, Any]) -> OpRegistry:
        # Modules keep a reference to the registry they were resolved from; copying a model
        # (EMA, deepcopy) must share it, not clone every plugin's functions.
        return self

    def register_for(self, plugin: str, distribution: str = "", version: str = "") -> Register:
        """The ``register`` callback handed to one plugin's ``register_ops`` hook."""

        def register(
            name: str,
            factory: Callable[..., Any],
            *,
            schema: Any = None,
            description: str = "",
            license: str | None = None,
            paper: str | None = None,
            tags: dict[str, Any] | None = None,
        ) -> None:
            if schema is not None:
                raise PluginError(f"op '{name}': ops take no schema")
            self.add(name, factory, plugin=plugin, distribution=distribution, version=version,
                     description=description, license=license, paper=paper, tags=tags)

        return register

    def add(self, op: str, impl: Reference | Override | Any, **origin: Any) -> Implementation:
        """Add a reference or an override of ``op``; ``origin`` fills :class:`Implementation` fields.

        Raises:
            PluginError: a malformed name or implementation.
            RegistryError: a second reference, or an implementation name taken in the op.
        """
        if not _OP_NAME.match(op):
            raise PluginError(f"op name '{op}' must be dotted lower-case words, e.g. 'myplugin.fused_gate'")
        self._choices.clear()  # a new implementation may change earlier choices
        self._checked.clear()
        origin["tags"] = dict(origin.get("tags") or {})
        if isinstance(impl, Reference):
            if not (callable(impl.fn) and callable(impl.samples)):
                raise PluginError(f"reference of op '{op}': fn and samples must be callable")
            entry = Implementation(op, "reference", impl.fn, **origin)
            entry = _with_description(entry)
            if op in self._ops:
                first = self._ops[op].reference
                raise RegistryError(f"op '{op}' has two references: by {first.origin} and by {entry.origin}")
            self._ops[op] = Op(op, entry, impl.samples)
            for waiting in self._waiting.pop(op, []):
                self._add_override(waiting)
            return entry
        if not isinstance(impl, Override):
            raise PluginError(f"op '{op}': register a restorefw.ops.Reference or Override, not {type(impl).__name__}")
        entry = _override_entry(op, impl, origin)
        if op in self._ops:
            self._add_override(entry)
        else:
            self._waiting.setdefault(op, []).append(entry)
        return entry

    def _add_override(self, entry: Implementation) -> None:
        op = self._ops[entry.op]
        for other in op.implementations:
            if other.name == entry.name:
                raise RegistryError(f"op '{op.name}' implementation '{entry.name}' is registered twice: "
                                    f"by {other.origin} and by {entry.origin}")
        overrides = sorted((*op.overrides, entry), key=lambda i: (-i.priority, i.name))
        self._ops[op.name] = Op(op.name, op.reference, op.samples, tuple(overrides))

    def orphans(self) -> list[Implementation]:
        """Overrides of ops that no plugin gave a reference for (they are never chosen)."""
        return [impl for waiting in self._waiting.values() for impl in waiting]

    def __contains__(self, name: object) -> bool:
        return name in self._ops

    def __iter__(self) -> Iterator[Op]:
        return iter(sorted(self._ops.values(), key=lambda o: o.name))

    def __len__(self) -> int:
        return len(self._ops)

    def get(self, name: str) -> Op:
        """The op called ``name``; unknown names raise with a "did you mean"."""
        try:
            return self._ops[name]
        except KeyError:
            known = sorted(self._ops)
            hint = did_you_mean(name, known)
            raise RegistryError(f"unknown op '{name}'{hint}; known: {', '.join(known) or 'none'}") from None

    def check_policy(self, policy: OpsPolicy) -> None:
        """Raise :class:`ConfigError` if ``policy`` pins an unknown op or implementation."""
        if policy not in self._checked:
            policy.check({op.name: [i.name for i in op.implementations] for op in self})
            self._checked.add(policy)

    def select(
        self, name: str, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
        policy: OpsPolicy | None = None,
    ) -> Implementation:
        """The implementation of ``name`` to use on ``device`` for a module of ``dtype``.

        ``auto`` takes the usable override with the highest priority, else the reference.
        A pin to an override that does not run on the device type gives the reference
        there (a model is often built on the CPU for a pinned CUDA kernel).

        Raises:
            RegistryError: an unknown op.
            ConfigError: a bad policy, or a pinned override that runs on the device type but
                is unavailable or does not handle ``dtype``.
        """
        policy = policy or OpsPolicy()
        device_type = torch.device(device).type
        key = (name, device_type, dtype, policy)
        if key not in self._choices:
            self.check_policy(policy)
            self._choices[key] = self._choose(self.get(name), device_type, dtype, policy)
        return self._choices[key]

    def _choose(self, op: Op, device_type: str, dtype: torch.dtype, policy: OpsPolicy) -> Implementation:
        choice = policy.choice(op.name)
        if choice == "reference":
            return op.reference
        if choice == "auto":
            return next((i for i in op.overrides if i.unusable(device_type, dtype) is None), op.reference)
        impl = op.implementation(choice)
        if impl.devices is not None and device_type not in impl.devices:
            return op.reference
        reason = impl.unusable(device_type, dtype)
        if reason is not None:
            raise ConfigError(f"op '{op.name}' is pinned to '{impl.name}', which cannot run here: {reason}",
                              policy.source)
        return impl

    def resolve(
        self, name: str, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
        policy: OpsPolicy | None = None,
    ) -> Callable[..., Any]:
        """The function :meth:`select` chooses."""
        return self.select(name, device, dtype, policy).fn


def _with_description(entry: Implementation) -> Implementation:
    if entry.description:
        return entry
    doc = (getattr(entry.fn, "__doc__", None) or "").strip().split("\n")[0]
    return replace(entry, description=doc)


def _override_entry(op: str, impl: Override, origin: dict[str, Any]) -> Implementation:
    problems = []
    if not _IMPL_NAME.match(impl.name) or impl.name in ("reference", "auto"):
        problems.append(f"name '{impl.name}' must be a lower-case word other than 'reference' and 'auto'")
    if not callable(impl.fn):
        problems.append("fn is not callable")
    if not impl.devices or not all(isinstance(d, str) and d for d in impl.devices):
        problems.append(f"devices must be device types such as ('cuda',), got {impl.devices!r}")
    if not impl.dtypes or not all(isinstance(d, torch.dtype) for d in impl.dtypes):
        problems.append(f"dtypes must be torch dtypes, got {impl.dtypes!r}")
    if problems:
        raise PluginError(f"override of op '{op}': {'; '.join(problems)}")
    entry = Implementation(op, impl.name, impl.fn, tuple(impl.devices), tuple(impl.dtypes), impl.priority,
                           impl.available, impl.requires, **origin)
    return _with_description(entry)
