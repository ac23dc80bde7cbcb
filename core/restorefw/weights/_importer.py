"""How a registered model recognises the authors' checkpoints and maps them to its own layout."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor

__all__ = ["Importer", "StateDict"]

StateDict = dict[str, Tensor]


@dataclass(frozen=True)
class Importer:
    """Official-checkpoint support of one registered model (``register(..., importer=Importer(...))``).

    Attributes:
        infer_spec: the model's parameters read from a foreign state dict's key names and shapes,
            or ``None`` when the state dict is not one of this model's.
        from_official: maps the authors' key names and layouts to the model's own; ``None`` when the
            model keeps the official names (Restormer, IPT).
        to_official: the inverse, for ``restorefw export``; ``None`` when the names are the same.
        order: models are asked in ascending order (ties by name), so a specific recogniser can
            go before a general one that would also accept the keys.
    """

    infer_spec: Callable[[Mapping[str, Tensor]], dict[str, Any] | None]
    from_official: Callable[[StateDict], StateDict] | None = None
    to_official: Callable[[StateDict], StateDict] | None = None
    order: int = 100
