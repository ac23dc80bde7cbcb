"""The registry and policy in force, and modules that bind ops once per device.

A module binds each op it calls to an attribute when it is built (:meth:`OpsModule.use_op`)
and calls that attribute in ``forward``: no lookup per call. The policy and registry in
force at build are kept on the module, so a later move (``.to("cuda")``, ``.half()``)
re-resolves with the same choices for the new device and dtype, once per move.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import torch
from torch import nn

from restorefw._defaults import provided
from restorefw.ops._policy import ENV_VAR, OpsPolicy
from restorefw.ops._registry import Implementation, OpRegistry

__all__ = ["OpsModule", "current_policy", "current_registry", "default_op_registry", "resolve", "use"]

_IN_FORCE: ContextVar[tuple[OpsPolicy | None, OpRegistry | None]] = ContextVar("restorefw_ops", default=(None, None))


@lru_cache(maxsize=1)
def default_op_registry() -> OpRegistry:
    """Ops of every installed plugin, built once (``default_op_registry.cache_clear()`` resets it)."""
    registry: OpRegistry = provided("op_registry")
    return registry


@lru_cache(maxsize=8)
def _env_policy(text: str) -> OpsPolicy:
    return OpsPolicy.parse(text, ENV_VAR)


def current_policy() -> OpsPolicy:
    """The policy of the innermost :func:`use`, else ``RESTOREFW_OPS``, else ``auto``."""
    policy, _ = _IN_FORCE.get()
    return policy if policy is not None else _env_policy(os.environ.get(ENV_VAR, ""))


def current_registry() -> OpRegistry:
    """The registry of the innermost :func:`use`, else :func:`default_op_registry`."""
    _, registry = _IN_FORCE.get()
    return registry if registry is not None else default_op_registry()


@contextmanager
def use(
    policy: str | Mapping[str, str] | OpsPolicy | None = None, *, registry: OpRegistry | None = None
) -> Iterator[OpsPolicy]:
    """Choose implementations for the modules built inside the block.

    It takes precedence over ``RESTOREFW_OPS``; what it leaves as ``None`` is
    inherited from an enclosing :func:`use`.

    Args:
        policy: policy text (``"reference"``, ``"auto,layernorm2d=reference"``) or
            ``{op: implementation}`` pins.
        registry: the ops to choose from, e.g. a test's own; default: the installed plugins'.

    Example:
        ``with restorefw.ops.use("reference"): model = restorefw.create("model", "restormer")``
    """
    outer_policy, outer_registry = _IN_FORCE.get()
    parsed = OpsPolicy.parse(policy, "restorefw.ops.use") if policy is not None else outer_policy
    token = _IN_FORCE.set((parsed, registry if registry is not None else outer_registry))
    try:
        yield parsed if parsed is not None else current_policy()
    finally:
        _IN_FORCE.reset(token)


def resolve(name: str, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Callable[..., Any]:
    """The implementation of op ``name`` for ``device`` and ``dtype`` under the policy in force."""
    return current_registry().resolve(name, device, dtype, current_policy())


class OpsModule(nn.Module):
    """Base of modules that call registered ops.

    Call :meth:`use_op` in ``__init__`` after creating the parameters, then call the
    bound attribute in ``forward``. Moves go through ``nn.Module._apply`` (as for
    ``nn.RNNBase``, which re-flattens its weights there), so each move re-resolves the
    module's ops once for its new device and dtype.
    """

    def use_op(self, attr: str, op: str) -> None:
        """Bind op ``op`` to attribute ``attr``, resolved for this module's device and dtype."""
        if "_op_names" not in self.__dict__:
            # Kept so that moves resolve with the choices in force at build, not at the move.
            self._op_names: dict[str, str] = {}
            self._op_bound: dict[str, Implementation] = {}
            self._op_policy = current_policy()
            self._op_registry = _IN_FORCE.get()[1]
        self._op_names[attr] = op
        self.resolve_ops()

    def resolve_ops(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        """Re-resolve every bound op, for the module's own device and dtype unless given.

        Needed only after changes that bypass ``_apply``, e.g. ``load_state_dict(assign=True)``
        of a model built on the ``meta`` device.
        """
        names: dict[str, str] = self.__dict__.get("_op_names", {})
        if not names:
            return
        first = next(itertools.chain(self.parameters(), self.buffers()), None)
        device = device if device is not None else (first.device if first is not None else "cpu")
        dtype = dtype if dtype is not None else (first.dtype if first is not None else torch.get_default_dtype())
        registry = self._op_registry if self._op_registry is not None else default_op_registry()
        for attr, op in names.items():
            impl = registry.select(op, device, dtype, self._op_policy)
            self._op_bound[attr] = impl
            setattr(self, attr, impl.fn)

    def bound_ops(self) -> dict[str, Implementation]:
        """``{attribute: implementation}`` as currently resolved, for logs and tests."""
        return dict(self.__dict__.get("_op_bound", {}))

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> OpsModule:
        module = super()._apply(fn, recurse)
        self.resolve_ops()
        return module
