"""What a plugin registers through ``register_ops`` (a :class:`Reference` or an :class:`Override`)
and what the registry keeps of it (:class:`Implementation`, :class:`Op`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch

from restorefw._errors import RegistryError
from restorefw._hints import did_you_mean

__all__ = ["FLOATING", "Implementation", "Op", "OpSample", "Override", "Reference", "SampleFn"]

FLOATING: tuple[torch.dtype, ...] = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
"""The floating dtypes an implementation handles unless it declares fewer."""


@dataclass(frozen=True)
class OpSample:
    """One call of an op for the conformance check: positional and keyword arguments.

    Floating tensors are given in ``float64`` on the CPU; :func:`restorefw.testing.check_op`
    casts them to the dtype and device under test, lays 4-D ones out contiguous,
    channels-last or strided, and differentiates the output with respect to all of them.
    """

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


SampleFn = Callable[[torch.Generator], Iterable[OpSample]]
"""``samples(generator) -> OpSample...``: representative calls, random shapes and values."""


@dataclass(frozen=True)
class Reference:
    """The ground truth of an op: plain torch, every device and dtype, differentiable.

    Register it once per op: ``register("layernorm2d", Reference(layer_norm_channels, samples))``.

    Args:
        fn: the implementation; its signature and docstring define the op.
        samples: representative calls used by the conformance check of every override.
    """

    fn: Callable[..., Any]
    samples: SampleFn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


@dataclass(frozen=True)
class Override:
    """A faster implementation of an op for some devices and dtypes.

    It must match the reference (same signature, values within the tolerances of
    :func:`restorefw.testing.check_op`, gradients included) for every input it may be
    called with on its ``devices`` and ``dtypes``; inputs it has no fast path for
    (a flag, a layout) it may hand to the reference itself.

    Args:
        name: implementation name, unique within the op (``"reference"`` is reserved).
        fn: the implementation.
        devices: device types it runs on, e.g. ``("cuda",)`` or ``("cpu", "cuda")``.
        dtypes: parameter dtypes it is selected for. A model built in ``float32`` on
            CUDA may run under autocast, so a CUDA override chosen for ``float32`` must
            also accept ``float16`` and ``bfloat16`` inputs.
        priority: among usable overrides the highest wins.
        available: called once per registry; ``False`` (or an exception) makes the
            override unusable, e.g. when an optional package is missing.
        requires: what ``available`` needs, shown when it is unavailable.
    """

    name: str
    fn: Callable[..., Any]
    devices: tuple[str, ...]
    dtypes: tuple[torch.dtype, ...] = FLOATING
    priority: int = 0
    available: Callable[[], bool] | None = None
    requires: str = ""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


@dataclass(frozen=True)
class Implementation:
    """One registered implementation of an op, and where it came from.

    ``devices`` is ``None`` for the reference, which runs everywhere.
    """

    op: str
    name: str
    fn: Callable[..., Any] = field(repr=False)
    devices: tuple[str, ...] | None = None
    dtypes: tuple[torch.dtype, ...] = FLOATING
    priority: int = 0
    check: Callable[[], bool] | None = field(default=None, repr=False)
    requires: str = ""
    plugin: str = ""
    distribution: str = ""
    version: str = ""
    description: str = ""
    license: str | None = None
    paper: str | None = None
    tags: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_reference(self) -> bool:
        """Whether this is the op's reference implementation."""
        return self.devices is None

    @property
    def origin(self) -> str:
        """Human-readable origin: ``plugin 'x' (dist 1.0)``."""
        dist = f" ({self.distribution} {self.version})".rstrip() if self.distribution else ""
        return f"plugin '{self.plugin}'{dist}"

    @cached_property
    def unavailable(self) -> str | None:
        """Why the override cannot run on this machine at all, or ``None``; checked once."""
        if self.check is None:
            return None
        try:
            ok = bool(self.check())
        except Exception as exc:
            return f"availability check raised {type(exc).__name__}: {exc}"
        return None if ok else f"needs {self.requires or 'what its availability check looks for'}"

    def unusable(self, device_type: str, dtype: torch.dtype) -> str | None:
        """Why this implementation cannot be chosen for ``(device_type, dtype)``, or ``None``."""
        if self.devices is None:
            return None
        if device_type not in self.devices:
            return f"runs on {', '.join(self.devices)}, not {device_type}"
        if dtype not in self.dtypes:
            return f"does not handle {str(dtype).removeprefix('torch.')}"
        return self.unavailable


@dataclass(frozen=True)
class Op:
    """A named op: its reference, its sample calls and its overrides (best first)."""

    name: str
    reference: Implementation
    samples: SampleFn = field(repr=False)
    overrides: tuple[Implementation, ...] = ()

    @property
    def description(self) -> str:
        """One line saying what the op computes."""
        return self.reference.description

    @property
    def implementations(self) -> tuple[Implementation, ...]:
        """The reference, then the overrides, best first."""
        return (self.reference, *self.overrides)

    def implementation(self, name: str) -> Implementation:
        """The implementation called ``name``; unknown names raise with a "did you mean"."""
        for impl in self.implementations:
            if impl.name == name:
                return impl
        names = [i.name for i in self.implementations]
        raise RegistryError(f"op '{self.name}' has no implementation '{name}'{did_you_mean(name, names)}")
