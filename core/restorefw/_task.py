"""The :class:`Task` object that task plugins return."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Task"]


@dataclass(frozen=True)
class Task:
    """What a model must undo, and how its results are scored.

    Attributes:
        name: task name, e.g. ``"sr"``.
        degradation: ``degrade(hr, generator) -> (lq, target)`` (see the degradation hook).
        scale: output size / input size (SR factor; 1 otherwise).
        crop_border: pixels cut from each edge before metrics (BasicSR ``crop_border``).
        y_channel: score on the BT.601 luma channel instead of RGB.
        baseline: maps ``lq`` to the target's size to score "do nothing" (bicubic for SR);
            ``None`` means ``lq`` itself.
    """

    name: str
    degradation: Callable[..., Any]
    scale: int = 1
    crop_border: int = 0
    y_channel: bool = False
    baseline: Callable[[Any], Any] | None = None
