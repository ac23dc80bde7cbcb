"""Cross-entropy loss and intersection-over-union scores for class masks.

Masks travel through restorefw as float ``(B, 1, H, W)`` tensors holding class
indices (so the engine's paired-batch sampling crops and flips them like
images). Predictions are logits ``(B, K, H, W)`` with ``K >= 2``, or, for the
metric, a class map ``(B, 1, H, W)`` like the masks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from restorefw import StrictModel

__all__ = [
    "CrossEntropy",
    "CrossEntropyConfig",
    "MeanIoU",
    "MeanIoUConfig",
    "class_map",
    "confusion",
    "iou",
    "mask_labels",
]


class CrossEntropyConfig(StrictModel):
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="PyTorch's label smoothing")


class MeanIoUConfig(StrictModel):
    include_background: bool = Field(True, description="count class 0 in the mean, as PASCAL VOC does")


def mask_labels(mask: Tensor) -> Tensor:
    """``(B, H, W)`` int64 labels of a float ``(B, 1, H, W)`` mask of class indices.

    Raises:
        ValueError: the mask has another shape, or holds values that are not
            non-negative integers (an image given where a mask was expected).
    """
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"expected a (B, 1, H, W) mask of class indices, got shape {tuple(mask.shape)}")
    if mask.is_floating_point() and not torch.equal(mask, mask.round()):
        raise ValueError("the mask holds non-integer values: expected class indices (is the stage's train "
                         "dataset a segmentation dataset such as synthetic_shapes?)")
    labels = mask[:, 0].long()
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError("the mask holds negative values: expected class indices 0, 1, ...")
    return labels


def class_map(pred: Tensor) -> Tensor:
    """``(B, H, W)`` int64 labels of logits ``(B, K, H, W)`` (arg-max) or a class map ``(B, 1, H, W)``."""
    if pred.dim() != 4:
        raise ValueError(f"expected (B, K, H, W) logits or a (B, 1, H, W) class map, got shape {tuple(pred.shape)}")
    return mask_labels(pred.round()) if pred.shape[1] == 1 else pred.argmax(dim=1)


def confusion(pred: Tensor, target: Tensor, classes: int) -> Tensor:
    """Per-image confusion matrices ``(B, classes, classes)``: entry ``[b, t, p]`` counts target ``t`` predicted ``p``.

    Args:
        pred: ``(B, H, W)`` int64 predicted labels in ``[0, classes)``.
        target: ``(B, H, W)`` int64 target labels in ``[0, classes)``.
        classes: the number of classes.
    """
    b = target.shape[0]
    offsets = torch.arange(b, device=target.device)[:, None] * classes * classes
    flat = (offsets + target.reshape(b, -1) * classes + pred.reshape(b, -1)).reshape(-1)
    return torch.bincount(flat, minlength=b * classes * classes).reshape(b, classes, classes)


def iou(matrix: Tensor) -> Tensor:
    """IoU per class from confusion matrices ``(..., K, K)``; NaN for a class in neither map."""
    inter = matrix.diagonal(dim1=-2, dim2=-1).double()
    union = matrix.sum(-1).double() + matrix.sum(-2).double() - inter
    return torch.where(union > 0, inter / union.clamp(min=1), torch.full_like(inter, float("nan")))


class CrossEntropy(nn.Module):
    """Pixel-wise cross-entropy of logits ``(B, K, H, W)`` against a float mask ``(B, 1, H, W)``.

    Args:
        label_smoothing: PyTorch's label smoothing.
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, logits: Tensor, mask: Tensor) -> Tensor:
        """Mean cross-entropy over every pixel of the batch."""
        if logits.dim() != 4 or logits.shape[1] < 2:
            raise ValueError(f"cross_entropy expects (B, K, H, W) logits with K >= 2 classes, got shape "
                             f"{tuple(logits.shape)} (is the model a segmentation model such as segmenter?)")
        labels = mask_labels(mask)
        if labels.shape != (logits.shape[0], *logits.shape[2:]):
            raise ValueError(f"logits {tuple(logits.shape)} and mask {tuple(mask.shape)} differ in batch or size")
        if labels.numel() and int(labels.max()) >= logits.shape[1]:
            raise ValueError(f"the mask holds class {int(labels.max())} but the logits have only "
                             f"{logits.shape[1]} classes")
        return F.cross_entropy(logits.float(), labels, label_smoothing=self.label_smoothing)


class MeanIoU:
    """Per-image mean intersection over union, ``metric(pred, target) -> (B,)``.

    ``pred`` is logits ``(B, K, H, W)`` (scored by arg-max) or a class map
    ``(B, 1, H, W)``; ``target`` is a float ``(B, 1, H, W)`` mask of class
    indices. Each image's score is the mean IoU over the classes present in its
    prediction or its target, so a class absent from both does not count; an
    image with no counted class at all (only background, with
    ``include_background = false``) scores 1. The engine's image evaluation
    clamps outputs to [0, 1], which destroys logits: use this metric in a
    segmentation strategy (as ``segmentation`` does), not in ``[eval] metrics``.

    Args:
        include_background: count class 0 in the mean.
    """

    name = "miou"
    higher_is_better = True

    def __init__(self, include_background: bool = True) -> None:
        self.include_background = include_background

    def __call__(self, pred: Tensor, target: Tensor) -> Tensor:
        labels, predicted = mask_labels(target), class_map(pred)
        if labels.shape != predicted.shape:
            raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in batch or size")
        classes = max(int(labels.max()), int(predicted.max()), 0) + 1 if labels.numel() else 1
        per_class = iou(confusion(predicted, labels, classes))
        if not self.include_background:
            per_class = per_class[:, 1:]
        counted = ~per_class.isnan()
        total = torch.where(counted, per_class, torch.zeros_like(per_class)).sum(-1)
        scores = torch.where(counted.any(-1), total / counted.sum(-1).clamp(min=1), torch.ones_like(total))
        return scores.float()
