"""IPT training strategies: multi-task pretraining and single-task fine-tuning.

Chen et al., "Pre-Trained Image Processing Transformer", CVPR 2021, arXiv:2012.00364.
Original repository: https://github.com/huawei-noah/Pretrained-IPT. Clean-room code.

``ipt_multitask`` draws one task per batch, crops the engine's clean HR patches to
what that task needs (``patch_size·scale``), degrades them on the fly with the task's
own degradation and trains that task's head, tail and query with the shared body;
optionally with the contrastive term. ``ipt_finetune`` prunes a multi-task model to
one task (body + that task's head, tail and query row, or fresh ones) and trains it
like the supervised strategy.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from restorefw import ComponentField, ConfigError, RunError, StrictModel, Task
from restorefw.engine import Batch, StepContext, Strategy, restore_image
from restorefw_ipt._contrastive import supcon_loss
from restorefw_ipt._model import IPT, pruned_spec
from restorefw_ipt._parts import IPTHead, IPTTail, check_scale

__all__ = ["IPTFinetune", "IPTFinetuneConfig", "IPTMultitask", "IPTMultitaskConfig"]


def _ipt(model: nn.Module, strategy: str) -> IPT:
    if not isinstance(model, IPT):
        raise ConfigError(f"strategy '{strategy}' needs the 'ipt' model, got {type(model).__name__}", path="model")
    return model


class IPTMultitaskConfig(StrictModel):
    tasks: list[ComponentField("task")] = Field(
        min_length=1, description="entry i trains model task i with its own degradation (e.g. sr, denoise, derain)")
    weights: list[float] | None = Field(None, description="sampling weight of each task; default uniform")
    contrastive: bool = Field(False, description="add the supervised-contrastive term over token features")
    contrastive_weight: float = Field(0.1, gt=0, description="lambda")
    temperature: float = Field(0.07, gt=0, description="tau")
    contrastive_tokens: int | None = Field(None, ge=2, description="tokens sampled per image for the "
                                           "contrastive term (memory grows with (batch*tokens)^2); default all")

    @model_validator(mode="after")
    def _weights(self) -> IPTMultitaskConfig:
        if self.weights is not None and (len(self.weights) != len(self.tasks) or min(self.weights) < 0
                                         or sum(self.weights) <= 0):
            raise ValueError("weights needs one non-negative entry per task, not all zero")
        return self


class IPTMultitask(Strategy):
    """Multi-task IPT pretraining: one task per batch, L1 (the stage loss) + optional contrastive term."""

    # Each step uses one head and tail only, which plain DDP rejects as unused parameters.
    supports_distributed = False

    def __init__(self, tasks: list[Task], weights: list[float] | None = None, contrastive: bool = False,
                 contrastive_weight: float = 0.1, temperature: float = 0.07,
                 contrastive_tokens: int | None = None) -> None:
        self.tasks = tasks
        self.weights = torch.tensor(weights or [1.0] * len(tasks), dtype=torch.float64)
        self.contrastive, self.contrastive_weight = contrastive, contrastive_weight
        self.temperature, self.contrastive_tokens = temperature, contrastive_tokens
        self.patch = 0

    def prepare(self, model: nn.Module, stage: str) -> None:
        """Check that task ``i`` of the strategy fits task ``i`` of the model."""
        ipt = _ipt(model, "ipt_multitask")
        if len(self.tasks) != ipt.num_tasks:
            raise ConfigError(f"stage '{stage}': ipt_multitask has {len(self.tasks)} tasks but the model has "
                              f"{ipt.num_tasks} (scales {ipt.scales})", path="model.scales")
        for index, (task, scale) in enumerate(zip(self.tasks, ipt.scales, strict=True)):
            if task.scale != scale:
                raise ConfigError(f"stage '{stage}': task {index} ({task.name}) has scale {task.scale}, "
                                  f"the model's task {index} has scale {scale}", path="model.scales")
        self.patch = ipt.config.patch_size

    def draw(self, batch: Batch, generator: torch.Generator) -> tuple[int, Tensor, Tensor]:
        """Pick a task and degrade a crop of the clean patches for it: ``(task, lq, target)``."""
        index = int(torch.multinomial(self.weights, 1, generator=generator))
        task = self.tasks[index]
        hr, need = batch.target, self.patch * task.scale
        if min(hr.shape[-2:]) < need:
            raise RunError(f"task {index} ({task.name}, x{task.scale}) needs HR patches of at least {need} "
                           f"pixels (patch_size x scale); the stage samples {tuple(hr.shape[-2:])}")
        top = int(torch.randint(hr.shape[-2] - need + 1, (1,), generator=generator))
        left = int(torch.randint(hr.shape[-1] - need + 1, (1,), generator=generator))
        crop = hr[..., top : top + need, left : left + need]
        return (index, *task.degradation(crop, generator))

    def compute_loss(self, model: nn.Module, batch: Batch, ctx: StepContext) -> tuple[Tensor, dict[str, float]]:
        """Stage loss of one task's prediction, plus ``λ·SupCon`` over the body's tokens when enabled."""
        generator = ctx.generator or torch.Generator().manual_seed(ctx.step)
        index, lq, target = self.draw(batch, generator)
        if not self.contrastive:
            pred = model(lq, task=index)
            return ctx.loss_fn(pred.float(), target.float()), {"task": float(index)}
        pred, tokens = model(lq, task=index, features=True)
        if self.contrastive_tokens is not None and self.contrastive_tokens < tokens.shape[1]:
            keep = torch.randperm(tokens.shape[1], generator=generator)[: self.contrastive_tokens]
            tokens = tokens[:, keep.to(tokens.device)]
        pixel = ctx.loss_fn(pred.float(), target.float())
        contrast = supcon_loss(tokens, self.temperature, self.temperature)
        logs = {"task": float(index), "pixel_loss": float(pixel.detach()), "contrastive": float(contrast.detach())}
        return pixel + self.contrastive_weight * contrast, logs

    def evaluate_extra(self, model: nn.Module, pairs: list[Any], metrics: dict[str, Any],
                       ctx: StepContext) -> dict[str, Any]:
        """Scores of every task (and of its input) on the validation images, each degraded by that task."""
        ipt = _ipt(model, "ipt_multitask")
        active, training, results = ipt.task, ipt.training, {}
        try:
            for index, task in enumerate(self.tasks):
                ipt.task = index
                scores: dict[str, list[float]] = {}
                for number, pair in enumerate(pairs):
                    h, w = (s - s % task.scale for s in pair.target.shape[-2:])
                    clean = pair.target[None, :, :h, :w].float()
                    lq, target = task.degradation(clean, torch.Generator().manual_seed(7919 * index + number))
                    restored = restore_image(ipt, lq, ctx.device, ctx.precision)
                    baseline = (task.baseline(lq) if task.baseline is not None else lq).clamp(0, 1)
                    for name, metric in metrics.items():
                        scores.setdefault(name, []).append(float(metric(restored, target)[0]))
                        scores.setdefault(f"input_{name}", []).append(float(metric(baseline, target)[0]))
                label = f"{index}:{task.name}" + (f"_x{task.scale}" if task.scale > 1 else "")
                results[label] = {k: sum(v) / len(v) for k, v in scores.items()}
        finally:
            ipt.task = active
            ipt.train(training)
        return {"per_task": results}


class IPTFinetuneConfig(StrictModel):
    keep_task: int = Field(0, ge=0, description="task of the multi-task model whose head, tail and query are kept")
    new_head: bool = Field(False, description="replace the kept head by a freshly initialised ipt.head")
    new_tail: int | None = Field(None, ge=1, description="replace the kept tail by a fresh ipt.tail of this scale")

    @model_validator(mode="after")
    def _supported(self) -> IPTFinetuneConfig:
        if self.new_tail is not None:
            check_scale(self.new_tail)
        return self


class IPTFinetune(Strategy):
    """Fine-tune one task: prune a multi-task IPT to body + one head/tail/query, then train supervised.

    A model that already has a single task (e.g. rebuilt from a pruned checkpoint on
    resume) is left as it is. The stage's ``task`` (or the recipe's) gives the training
    pairs, so it must be the kept task's degradation.
    """

    def __init__(self, keep_task: int = 0, new_head: bool = False, new_tail: int | None = None) -> None:
        self.keep_task, self.new_head, self.new_tail = keep_task, new_head, new_tail

    def _new_parts(self, n_colors: int, n_feats: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Specs of the fresh head and tail to attach (None: keep the task's own)."""
        head = {"type": "ipt.head", "n_colors": n_colors, "n_feats": n_feats, "kernel_size": 5,
                "n_resblocks": 2} if self.new_head else None
        tail = {"type": "ipt.tail", "scale": self.new_tail, "n_colors": n_colors,
                "n_feats": n_feats} if self.new_tail is not None else None
        return head, tail

    def prepare(self, model: nn.Module, stage: str) -> None:
        """Keep the body and task ``keep_task`` (or new parts); drop every other head, tail and query."""
        ipt = _ipt(model, "ipt_finetune")
        if ipt.num_tasks == 1:
            return
        if self.keep_task >= ipt.num_tasks:
            raise ConfigError(f"stage '{stage}': keep_task {self.keep_task} but the model has {ipt.num_tasks} "
                              "tasks", path="strategy.keep_task")
        head, tail = self._new_parts(ipt.config.n_colors, ipt.config.n_feats)
        ipt.keep_task(self.keep_task,
                      IPTHead(**{k: v for k, v in head.items() if k != "type"}) if head else None,
                      IPTTail(**{k: v for k, v in tail.items() if k != "type"}) if tail else None)

    def model_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The model spec that rebuilds the model as :meth:`prepare` leaves it.

        A run stores it in checkpoint metadata, so that a fine-tuned checkpoint
        loads (``restorefw restore --checkpoint``) without the dropped tasks.
        """
        if len(spec["scales"]) == 1:
            return spec
        head, tail = self._new_parts(spec["n_colors"], spec["n_feats"])
        return pruned_spec(spec, self.keep_task, head, tail)
