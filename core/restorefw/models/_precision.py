"""What reduced precisions a model tolerates, per use, and the precision it gets.

A model (or any of its submodules) declares a :class:`PrecisionSupport` as the class
attribute ``precision_support``; models that declare nothing accept every precision.
Compositions take the strictest declaration of their parts, so an encoder that needs
fp32 keeps a whole encoder-decoder in fp32::

    class MZSRNet(nn.Module):
        precision_support = PrecisionSupport(adaptation=("fp32",), note="...")

    model_precision(model, "bf16", "adaptation")  # -> "fp32"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import nn

__all__ = ["ALL_PRECISIONS", "Precision", "PrecisionSupport", "Use", "model_precision", "precision_support"]

Precision = Literal["fp32", "bf16", "fp16"]
"""A resolved precision: what :func:`restorefw.engine.autocast` runs."""

Use = Literal["inference", "training", "adaptation"]
"""What the model is run for: restoration and evaluation, training steps, test-time gradient steps."""

ALL_PRECISIONS: tuple[Precision, ...] = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class PrecisionSupport:
    """The precisions a model runs acceptably in, for each use.

    Attributes:
        inference: precisions for restoration and evaluation.
        training: precisions for training steps (autocast forward and backward).
        adaptation: precisions for test-time gradient steps (e.g. MZSR's zero-shot adaptation).
        note: why some are left out, for logs and reports.
    """

    inference: tuple[Precision, ...] = ALL_PRECISIONS
    training: tuple[Precision, ...] = ALL_PRECISIONS
    adaptation: tuple[Precision, ...] = ALL_PRECISIONS
    note: str = ""

    def allows(self, precision: str, use: Use) -> bool:
        """Whether ``precision`` is acceptable for ``use``; fp32 always is."""
        return precision == "fp32" or precision in getattr(self, use)

    def __and__(self, other: PrecisionSupport) -> PrecisionSupport:
        """The precisions both accept, and both notes."""

        def common(use: Use) -> tuple[Precision, ...]:
            return tuple(p for p in getattr(self, use) if p in getattr(other, use))

        note = "; ".join(n for n in dict.fromkeys((self.note, other.note)) if n)
        return PrecisionSupport(common("inference"), common("training"), common("adaptation"), note)


def precision_support(model: nn.Module) -> PrecisionSupport:
    """The strictest ``precision_support`` declared by ``model`` or any of its submodules."""
    support = PrecisionSupport()
    for module in model.modules():
        declared = getattr(module, "precision_support", None)
        if isinstance(declared, PrecisionSupport):
            support = support & declared
    return support


def model_precision(model: nn.Module, precision: Precision, use: Use) -> Precision:
    """``precision`` if ``model`` accepts it for ``use``, else fp32.

    Args:
        model: the model (a composition is as strict as its strictest part).
        precision: a resolved precision (see :func:`restorefw.engine.resolve_precision`).
        use: what the model is run for.
    """
    return precision if precision_support(model).allows(precision, use) else "fp32"
