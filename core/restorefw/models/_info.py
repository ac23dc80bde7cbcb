"""The typed description of a model: what callers need to know before calling it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from torch import nn

from restorefw._tiling import ExactTiling

__all__ = ["ModelInfo", "describe", "unwrap"]


@dataclass(frozen=True)
class ModelInfo:
    """What a whole model promises its callers (spandrel's model descriptor plays the same role).

    Models set a ``model_info`` attribute (or property) of this type; :func:`describe` reads it.

    Attributes:
        scale: output size / input size (the super-resolution factor; 1 otherwise).
        in_channels: image channels the model reads (3 for RGB, 1 for grey).
        out_channels: image channels it writes.
        size_multiple: input height and width must be multiples of this (padding is the caller's).
        value_range: the range of input and output values (``(0, 1)``; DDeP works in ``(-1, 1)``
            internally but converts in its wrapper).
        cpu_channels_last: the model runs faster on channels-last inputs on the CPU.
        exact_tiling: ``forward_tiled(x, tile)`` computes the untiled output piecewise.
    """

    scale: int = 1
    in_channels: int = 3
    out_channels: int = 3
    size_multiple: int = 1
    value_range: tuple[float, float] = (0.0, 1.0)
    cpu_channels_last: bool = False
    exact_tiling: bool = False

    def with_changes(self, **changes: Any) -> ModelInfo:
        """A copy with some fields replaced."""
        return replace(self, **changes)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside DDP (``.module``) and ``torch.compile`` (``._orig_mod``) wrappers."""
    while True:
        inner = getattr(model, "_orig_mod", None) or getattr(model, "module", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def describe(model: nn.Module) -> ModelInfo:
    """The :class:`ModelInfo` of a model.

    A model without ``model_info`` is described by the plain attributes the model hook documents
    (``scale``, ``size_multiple``, ``value_range``) and by whether it has ``forward_tiled``;
    everything else takes the defaults.
    """
    model = unwrap(model)
    info = getattr(model, "model_info", None)
    if isinstance(info, ModelInfo):
        return info
    low, high = getattr(model, "value_range", (0.0, 1.0))
    return ModelInfo(
        scale=int(getattr(model, "scale", 1)),
        size_multiple=int(getattr(model, "size_multiple", 1)),
        value_range=(float(low), float(high)),
        exact_tiling=isinstance(model, ExactTiling) and bool(getattr(model, "exact_tiling", True)),
    )
