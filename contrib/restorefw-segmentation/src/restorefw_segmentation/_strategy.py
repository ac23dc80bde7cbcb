"""Strategies: supervised segmentation with a held-out mIoU, and pretraining a segmenter's backbone.

``segmentation`` trains on the stage's ``(image, mask)`` batches with the
stage's loss (``cross_entropy``) and, at the end of the stage, scores the model
on its own held-out ``synthetic_shapes`` set: the engine's image evaluation
clamps outputs to [0, 1] and cannot score logits.

``segmentation.backbone`` runs any other strategy (``dep``, ``ddep``, ...) on
the ``backbone`` of a :class:`~restorefw_segmentation.Segmenter` with the head
frozen, so one recipe can pretrain the backbone and then fine-tune the whole
segmenter.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import Tensor, nn

from restorefw import ComponentField, RunError, StrictModel
from restorefw.engine import Batch, StepContext, Strategy
from restorefw.models import describe
from restorefw_segmentation._scores import MeanIoU, class_map, confusion, iou, mask_labels
from restorefw_segmentation._shapes import CLASS_NAMES, SyntheticShapes

__all__ = ["BackboneConfig", "BackboneStrategy", "SegmentationConfig", "SegmentationStrategy"]


class SegmentationConfig(StrictModel):
    val_count: int = Field(32, ge=1, description="images of the held-out synthetic_shapes set")
    val_seed: int = Field(1000, ge=0, description="seed of the held-out set (use one no training set uses)")
    val_size: int = Field(64, ge=16, description="side of the held-out images")
    val_batch: int = Field(8, ge=1, description="images per forward pass during evaluation")


class BackboneConfig(StrictModel):
    strategy: ComponentField("strategy") = Field(description="the strategy to run on the backbone, e.g. "
                                                             "{ type = \"dep\", sigma = 0.22 }")


def _unwrap(model: nn.Module) -> nn.Module:
    """The module inside a ``torch.compile`` wrapper."""
    return getattr(model, "_orig_mod", model)


def _classes(ctx: StepContext) -> int:
    classes = getattr(ctx.task, "classes", None)
    if classes is None:
        raise RunError(f"stage '{ctx.stage}': the segmentation strategy needs the segmentation task; set "
                       f"task = {{ type = \"segmentation\", classes = ... }} in the stage (got '{ctx.task.name}')")
    return int(classes)


class SegmentationStrategy(Strategy):
    """Supervised segmentation; ``evaluate_extra`` scores a held-out ``synthetic_shapes`` set.

    Args:
        val_count: held-out images.
        val_seed: seed of the held-out set.
        val_size: side of the held-out images (cut to the model's size multiple).
        val_batch: images per forward pass during evaluation.
    """

    def __init__(self, val_count: int = 32, val_seed: int = 1000, val_size: int = 64, val_batch: int = 8) -> None:
        self.val_count, self.val_seed, self.val_size, self.val_batch = val_count, val_seed, val_size, val_batch

    def compute_loss(self, model: nn.Module, batch: Batch, ctx: StepContext) -> tuple[Tensor, dict[str, float]]:
        """``ctx.loss_fn(model(batch.lq), batch.target)`` and the batch's pixel accuracy."""
        logits = model(batch.lq)
        classes = _classes(ctx)
        if logits.dim() != 4 or logits.shape[1] != classes:
            raise RunError(f"stage '{ctx.stage}': the model gives shape {tuple(logits.shape)} but the task has "
                           f"{classes} classes; expected (B, {classes}, H, W) logits (set the model's classes)")
        loss = ctx.loss_fn(logits.float(), batch.target)
        with torch.no_grad():
            accuracy = (class_map(logits) == mask_labels(batch.target)).float().mean()
        return loss, {"pixel_accuracy": float(accuracy)}

    def evaluate_extra(self, model: nn.Module, pairs: list[Any], metrics: dict[str, Any],
                       ctx: StepContext) -> dict[str, Any]:
        """mIoU (over the whole held-out set), per-class IoU, pixel accuracy and mean per-image mIoU.

        ``pairs`` and ``metrics`` (the recipe's image evaluation) are not used.
        """
        classes = _classes(ctx)
        data = SyntheticShapes(seed=self.val_seed, count=self.val_count, size=self.val_size, classes=classes)
        side = self.val_size - self.val_size % describe(model).size_multiple
        total = torch.zeros(classes, classes, dtype=torch.long)
        per_image = []
        training = model.training
        model.eval()
        with torch.no_grad(), ctx.autocast():
            for start in range(0, len(data), self.val_batch):
                images, masks = data.batch(start, start + self.val_batch)
                images, masks = images[..., :side, :side], masks[..., :side, :side]
                logits = model(images.to(ctx.device)).float().cpu()
                total += confusion(class_map(logits), mask_labels(masks), classes).sum(0)
                per_image.append(MeanIoU()(logits, masks))
        model.train(training)
        per_class = iou(total)
        return {
            "miou": float(per_class.nanmean()),
            "per_class_iou": {CLASS_NAMES[k]: float(per_class[k]) for k in range(classes)},
            "pixel_accuracy": float(total.diagonal().sum() / total.sum()),
            "image_miou": float(torch.cat(per_image).mean()),
            "val_count": self.val_count, "val_seed": self.val_seed, "val_size": side,
        }


class BackboneStrategy(Strategy):
    """Run ``inner`` on ``model.backbone``; every parameter outside the backbone is frozen for the stage.

    The forward passes go to the bare backbone rather than through the engine's
    DDP wrapper, so this strategy runs in a single process only.

    Args:
        inner: the strategy to run on the backbone.
    """

    supports_distributed = False

    def __init__(self, inner: Strategy) -> None:
        self.inner = inner
        self.uses_loss = inner.uses_loss

    @staticmethod
    def backbone(model: nn.Module, stage: str) -> nn.Module:
        """``model.backbone``, or :class:`RunError` naming the stage."""
        backbone = getattr(_unwrap(model), "backbone", None)
        if not isinstance(backbone, nn.Module):
            raise RunError(f"stage '{stage}': segmentation.backbone needs a model with a 'backbone' part "
                           f"(model type 'segmenter'), got {type(_unwrap(model)).__name__}")
        return backbone

    def prepare(self, model: nn.Module, stage: str) -> None:
        """Freeze what is not the backbone (the head), then prepare ``inner`` on the backbone."""
        backbone = self.backbone(model, stage)
        own = {id(p) for p in backbone.parameters()}
        for param in model.parameters():
            if id(param) not in own:
                param.requires_grad_(False)
        self.inner.prepare(backbone, stage)

    def model_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The segmenter spec with the backbone spec as ``inner`` leaves it."""
        return {**spec, "backbone": self.inner.model_spec(spec["backbone"])}

    def train_step(self, ctx: StepContext, batch: Batch) -> dict[str, float]:
        """``inner``'s step with the backbone as the context's model."""
        model = ctx.model
        ctx.model = self.backbone(model, ctx.stage)
        try:
            return self.inner.train_step(ctx, batch)
        finally:
            ctx.model = model

    def evaluate_extra(self, model: nn.Module, pairs: list[Any], metrics: dict[str, Any],
                       ctx: StepContext) -> dict[str, Any]:
        """``inner``'s evaluation of the backbone."""
        outer = ctx.model
        ctx.model = backbone = self.backbone(model, ctx.stage)
        try:
            return self.inner.evaluate_extra(backbone, pairs, metrics, ctx)
        finally:
            ctx.model = outer
