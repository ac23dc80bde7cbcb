"""restorefw-segmentation: synthetic-shapes semantic segmentation as a restorefw task.

Lets a backbone pretrained by restorefw (e.g. a DeP/DDeP-pretrained UNet,
arXiv 2205.11423) be fine-tuned for segmentation, as the DDeP paper does.
Registered through the ``restorefw`` entry-point group; depends on restorefw's
public API only.
"""

from __future__ import annotations

from restorefw import Register, hookimpl
from restorefw.engine import Strategy
from restorefw_segmentation._model import Segmenter, SegmenterConfig
from restorefw_segmentation._scores import (
    CrossEntropy,
    CrossEntropyConfig,
    MeanIoU,
    MeanIoUConfig,
    class_map,
    confusion,
    iou,
    mask_labels,
)
from restorefw_segmentation._shapes import CLASS_NAMES, SyntheticShapes, SyntheticShapesConfig, render
from restorefw_segmentation._strategy import (
    BackboneConfig,
    BackboneStrategy,
    SegmentationConfig,
    SegmentationStrategy,
)
from restorefw_segmentation._task import Identity, SegmentationTask, SegmentationTaskConfig, segmentation_task

__all__ = [
    "CLASS_NAMES",
    "BackboneConfig",
    "BackboneStrategy",
    "CrossEntropy",
    "CrossEntropyConfig",
    "Identity",
    "MeanIoU",
    "MeanIoUConfig",
    "SegmentationConfig",
    "SegmentationStrategy",
    "SegmentationTask",
    "SegmentationTaskConfig",
    "Segmenter",
    "SegmenterConfig",
    "SyntheticShapes",
    "SyntheticShapesConfig",
    "class_map",
    "confusion",
    "iou",
    "mask_labels",
    "register_datasets",
    "register_losses",
    "register_metrics",
    "register_models",
    "register_strategies",
    "register_tasks",
    "render",
    "segmentation_task",
]

RESTOREFW_API_VERSION = 1

_LICENSE = "Apache-2.0"
_PAPER = "Brempong et al., Denoising Pretraining for Semantic Segmentation, CVPRW 2022, arXiv:2205.11423"


def _backbone_strategy(strategy: Strategy) -> BackboneStrategy:
    """Another strategy run on a segmenter's backbone, head frozen."""
    return BackboneStrategy(strategy)


@hookimpl
def register_datasets(register: Register) -> None:
    register("synthetic_shapes", SyntheticShapes, schema=SyntheticShapesConfig, license=_LICENSE,
             description="paired (image, mask): circles, squares, triangles on a textured background, from a seed")


@hookimpl
def register_tasks(register: Register) -> None:
    register("segmentation", segmentation_task, schema=SegmentationTaskConfig, license=_LICENSE,
             description="semantic segmentation (identity degradation; masks come from a paired dataset)")


@hookimpl
def register_models(register: Register) -> None:
    register("segmenter", Segmenter, schema=SegmenterConfig, license=_LICENSE, paper=_PAPER,
             description="any image-to-image backbone plus a small conv head to per-pixel class logits")


@hookimpl
def register_losses(register: Register) -> None:
    register("cross_entropy", CrossEntropy, schema=CrossEntropyConfig, license=_LICENSE,
             description="pixel-wise cross-entropy of (B, K, H, W) logits against a (B, 1, H, W) class mask")


@hookimpl
def register_metrics(register: Register) -> None:
    register("miou", MeanIoU, schema=MeanIoUConfig, license=_LICENSE,
             description="per-image mean IoU of logits or a class map against a class mask (not for [eval] metrics)")


@hookimpl
def register_strategies(register: Register) -> None:
    register("segmentation", SegmentationStrategy, schema=SegmentationConfig, license=_LICENSE,
             description="supervised segmentation; mIoU on a held-out synthetic_shapes set at the end of the stage")
    register("segmentation.backbone", _backbone_strategy, schema=BackboneConfig, license=_LICENSE, paper=_PAPER,
             description="run another strategy (dep, ddep, ...) on a segmenter's backbone with the head frozen")
