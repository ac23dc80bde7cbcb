"""The ``segmentation`` task: no degradation, and the number of classes for the strategy to check."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from pydantic import Field
from torch import Tensor

from restorefw import StrictModel, Task

__all__ = ["Identity", "SegmentationTask", "SegmentationTaskConfig", "segmentation_task"]


class SegmentationTaskConfig(StrictModel):
    classes: int = Field(4, ge=2, description="classes including background 0")


class Identity:
    """``degrade(hr, generator) -> (hr, hr)``.

    Segmentation batches come from a paired dataset (image, mask) and are never
    degraded. A stage that does sample clean images under this task, such as a
    denoising pretraining stage drawing its batches from ``data.train``, gets
    the images unchanged, and ``data.val`` pairs are the clean images.
    """

    scale = 1

    def __call__(self, hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return hr.clone(), hr


@dataclass(frozen=True)
class SegmentationTask(Task):
    """A :class:`restorefw.Task` that also says how many classes the masks hold."""

    classes: int = 4


def segmentation_task(classes: int = 4) -> SegmentationTask:
    """Semantic segmentation into ``classes`` classes (background 0 included)."""
    return SegmentationTask("segmentation", Identity(), scale=1, crop_border=0, y_channel=False, classes=classes)
