"""Exceptions raised inside plugin code during a run, reported with the component and plugin at fault.

The engine builds the strategy, loss, metrics and task of a run through :func:`build_blamed`: each
comes back wrapped so that an exception raised inside it (or a result that breaks its hook's
contract) becomes one :class:`~restorefw.PluginError` line naming kind, name and plugin; the
original exception stays its ``__cause__``, which ``restorefw --debug`` prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from restorefw._errors import PluginError, RegistryError, RestorefwError
from restorefw._registry import Registry
from restorefw._task import Task
from restorefw.engine._strategy import Batch, StepContext, Strategy

__all__ = ["Traced", "blame", "build_blamed", "build_traced", "first_line", "label"]

# Not the plugin's fault, and not worth hiding behind a plugin's name.
_PASS = (RestorefwError, torch.OutOfMemoryError, MemoryError)


def label(registry: Registry, kind: str, spec: Any) -> str:
    """``kind 'name' (plugin 'p' (dist version))``: how errors name a component of a recipe."""
    name = spec.get("type", "?") if isinstance(spec, Mapping) else str(spec)
    try:
        entry = registry.get(kind, name)
    except RegistryError:
        return f"{kind} '{name}'"
    return f"{kind} '{name}' ({entry.origin})"


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message`` of an exception."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@contextmanager
def blame(who: str, action: str) -> Iterator[None]:
    """Turn an exception raised inside a component into a :class:`PluginError` naming it.

    Errors restorefw raises on purpose (a non-finite loss, a bad parameter) and out-of-memory
    errors pass unchanged.

    Args:
        who: the component, as :func:`label` gives it.
        action: what it was doing, e.g. ``"train_step at step 3 of stage 'a'"``.
    """
    try:
        yield
    except _PASS:
        raise
    except Exception as exc:
        raise PluginError(f"{who}: {action} raised {first_line(exc)}") from exc


@dataclasses.dataclass(frozen=True)
class Traced:
    """A component built from a spec, with every nested component it contains.

    Attributes:
        component: the built component.
        parts: ``id(object) -> label`` of each nested component built on the way (a task's
            degradation, a model's heads and tails), so that errors name the innermost one.
    """

    component: Any
    parts: dict[int, str]

    def name_of(self, obj: Any, default: str) -> str:
        """The label of ``obj`` if it is one of the nested components, else ``default``."""
        return self.parts.get(id(obj), default)


def build_traced(registry: Registry, kind: str, spec: Any) -> Traced:
    """Build a component, remembering the label of every nested component (see :class:`Traced`)."""
    parts: dict[int, str] = {}

    def record(part_kind: str, resolved: dict[str, Any], obj: Any) -> None:
        parts[id(obj)] = label(registry, part_kind, resolved)

    with blame(label(registry, kind, spec), "its factory"):
        component = registry.build(kind, dict(spec) if isinstance(spec, Mapping) else {"type": spec}, record)
    return Traced(component, parts)


def build_blamed(registry: Registry, kind: str, spec: Any) -> Any:
    """Build a component for a run; strategies, losses, metrics and tasks' degradations come wrapped
    so that what goes wrong inside them is reported with their name and plugin."""
    built = build_traced(registry, kind, spec)
    who, component = label(registry, kind, spec), built.component
    if kind == "task" and isinstance(component, Task):
        degradation = built.name_of(component.degradation, f"the degradation of {who}")
        return dataclasses.replace(component, degradation=_Degradation(component.degradation, degradation))
    wrappers: dict[str, type[Any]] = {"strategy": _Strategy, "loss": _Loss, "metric": _Metric}
    return wrappers[kind](component, who) if kind in wrappers else component


class _Proxy:
    """Calls go through :func:`blame`; every other attribute is the wrapped component's."""

    def __init__(self, inner: Any, who: str) -> None:
        self._inner, self._who = inner, who

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_inner", "_who"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return repr(self._inner)


def _shape(value: Any) -> str:
    return f"a tensor of shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__


class _Degradation(_Proxy):
    def __call__(self, hr: Tensor, generator: torch.Generator) -> Any:
        with blame(self._who, f"degrade(hr) on a {tuple(hr.shape)} batch"):
            out = self._inner(hr, generator)
        if not (isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(t, Tensor) for t in out)):
            raise PluginError(f"{self._who}: degrade(hr, generator) returned {_shape(out)}, expected a "
                              "(lq, target) tuple of tensors")
        return out


class _Loss(_Proxy):
    def __call__(self, pred: Tensor, target: Tensor) -> Tensor:
        with blame(self._who, f"loss(pred, target) on {tuple(pred.shape)} and {tuple(target.shape)}"):
            out = self._inner(pred, target)
        if not (isinstance(out, Tensor) and out.numel() == 1):
            raise PluginError(f"{self._who}: loss(pred, target) returned {_shape(out)}, expected a scalar tensor")
        return out


class _Metric(_Proxy):
    def __call__(self, pred: Tensor, target: Tensor) -> Tensor:
        with blame(self._who, f"metric(pred, target) on {tuple(pred.shape)} and {tuple(target.shape)}"):
            out = self._inner(pred, target)
        if not (isinstance(out, Tensor) and out.dim() == 1 and len(out) == len(pred)):
            raise PluginError(f"{self._who}: metric(pred, target) returned {_shape(out)} for a batch of "
                              f"{len(pred)}, expected a ({len(pred)},) tensor: one value per image")
        return out


class _Strategy(Strategy):
    """A strategy whose methods are blamed on it; its class attributes are the wrapped strategy's."""

    def __init__(self, inner: Any, who: str) -> None:
        self._inner, self._who = inner, who

    uses_loss = property(lambda self: getattr(self._inner, "uses_loss", True))  # type: ignore[assignment]
    uses_degradation = property(lambda self: getattr(self._inner, "uses_degradation", True))  # type: ignore[assignment]
    supports_distributed = property(  # type: ignore[assignment]
        lambda self: getattr(self._inner, "supports_distributed", True))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_inner", "_who"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    def prepare(self, model: nn.Module, stage: str) -> None:
        with blame(self._who, f"prepare() of stage '{stage}'"):
            self._inner.prepare(model, stage)

    def model_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        with blame(self._who, "model_spec()"):
            return self._inner.model_spec(spec)

    def compute_loss(self, model: nn.Module, batch: Batch, ctx: StepContext) -> tuple[Tensor, dict[str, float]]:
        with blame(self._who, f"compute_loss() at step {ctx.step} of stage '{ctx.stage}'"):
            return self._inner.compute_loss(model, batch, ctx)

    def train_step(self, ctx: StepContext, batch: Batch) -> dict[str, float]:
        with blame(self._who, f"train_step() at step {ctx.step} of stage '{ctx.stage}'"):
            logs = self._inner.train_step(ctx, batch)
        if not (isinstance(logs, Mapping) and "loss" in logs):
            raise PluginError(f"{self._who}: train_step() returned {_shape(logs)}, expected a dict of values to log "
                              "with at least 'loss'")
        return logs

    def evaluate_extra(self, model: nn.Module, pairs: list[Any], metrics: dict[str, Any],
                       ctx: StepContext) -> dict[str, Any]:
        with blame(self._who, f"evaluate_extra() of stage '{ctx.stage}'"):
            return self._inner.evaluate_extra(model, pairs, metrics, ctx)
