"""The ``meta_transfer`` strategy: MZSR meta-transfer learning and its zero-shot evaluation."""

from __future__ import annotations

import time
from typing import Any, Literal

import torch
from pydantic import Field, NonNegativeInt, PositiveFloat
from torch import Tensor, nn
from torch.func import functional_call

from restorefw import ComponentField, ConfigError, RunError, StrictModel
from restorefw.engine import Batch, StepContext, Strategy, restore_image
from restorefw.models import describe
from restorefw_basic import psnr, rgb_to_y
from restorefw_mzsr._adapt import adaptation_trajectory, degrade
from restorefw_mzsr._meta import Forward, default_forward, multi_step_loss_weights, task_losses

__all__ = ["MetaTransfer", "MetaTransferConfig", "task_kernel"]


class MetaTransferConfig(StrictModel):
    # A fully spelled-out spec as the default, so it builds without a resolve pass.
    kernel: ComponentField("kernel") = Field(
        default_factory=lambda: {"type": "anisotropic_gaussian", "size": 15, "scale": 2, "lambda_min": 1.0,
                                 "lambda_max": None},
        description="kernel family of the tasks (MZSR's anisotropic Gaussians for x2; set scale for others)")
    downsample: Literal["auto", "direct", "bicubic"] = Field(
        "auto", description="LR synthesis; auto = the task degradation's, else direct")
    meta_batch_size: int = Field(5, ge=1, description="tasks (kernels) per outer step")
    support_size: int = Field(8, ge=1, description="support patches per task")
    query_size: int = Field(8, ge=1, description="query patches per task")
    inner_steps: int = Field(5, ge=1)
    inner_lr: float = Field(0.01, gt=0, description="inner plain-SGD step size alpha")
    first_order: bool = False
    loss_weighting: Literal["msl", "uniform", "last"] = Field(
        "msl", description="msl: MAML++ annealed multi-step loss; uniform: 1/T each (the released code); last")
    msl_anneal_steps: float = Field(10000 / 3, gt=0)
    msl_floor: float = Field(0.03, ge=0, lt=1)
    eval_kernel: ComponentField("kernel") | None = Field(None, description="known kernel; default: the task's")
    eval_adapt_steps: list[NonNegativeInt] = Field([0, 1, 10], min_length=1)
    eval_lr: PositiveFloat | list[PositiveFloat] | None = Field(
        None, description="adaptation step size, or one per step (the last repeats); None = inner_lr")


def task_kernel(task: Any, generator: torch.Generator) -> tuple[Tensor, str | None, bool]:
    """The blur kernel of a task's degradation (e.g. basic's ``blur``), drawn with ``generator``.

    Returns:
        ``(kernel, downsample or None, fixed)``; ``fixed`` is False when the family is
        random, so the drawn kernel is not the one each evaluation image was made with.

    Raises:
        ConfigError: the degradation (or its chain) has no kernel sampler.
    """
    degradation = task.degradation
    for part in [degradation, *getattr(degradation, "steps", [])]:
        sampler = getattr(part, "kernel", None)
        if callable(sampler):
            kernel = sampler(generator)
            fixed = bool(torch.equal(kernel, sampler(torch.Generator().manual_seed(generator.initial_seed() + 1))))
            return kernel, getattr(part, "downsample", None), fixed
    raise ConfigError("the task's degradation has no blur kernel; give the strategy an eval_kernel",
                      path="strategy.eval_kernel")


def _mean_shift(pred: Tensor, target: Tensor, border: int, y_channel: bool) -> float:
    """Mean of ``pred - target`` on the [0, 255] scale (luma if ``y_channel``), borders cropped."""
    diff = pred.double() - target.double()
    diff = rgb_to_y(diff) - 16.0 if y_channel else diff * 255.0
    return float(diff[..., border:diff.shape[-2] - border, border:diff.shape[-1] - border].mean())


class MetaTransfer(Strategy):
    """MZSR meta-transfer learning (second-order MAML with plain-SGD inner steps).

    Each outer step draws ``meta_batch_size`` kernels; the engine's batch of clean
    HR patches (``batch.target``) is split into a support and a query set per
    kernel and degraded with it. The outer loss is the weighted query loss after
    each inner step, averaged over tasks, and goes through the engine's optimizer.
    """

    #: Fast weights go through ``functional_call`` on the bare model, which DDP's gradient hooks do not see.
    supports_distributed = False

    def __init__(self, kernel: Any, eval_kernel: Any = None, **config: Any) -> None:
        self.kernel = kernel
        self.eval_kernel = eval_kernel
        # The kernel fields arrive built; the config keeps (and checks) the plain settings.
        self.config = MetaTransferConfig(**config)

    def step_weights(self, step: int) -> list[float]:
        """Query-loss weights of the inner steps at outer step ``step``."""
        c = self.config
        if c.loss_weighting == "uniform":
            return [1.0 / c.inner_steps] * c.inner_steps
        if c.loss_weighting == "last":
            return [0.0] * (c.inner_steps - 1) + [1.0]
        return multi_step_loss_weights(c.inner_steps, step, c.msl_anneal_steps, c.msl_floor)

    def _downsample(self, task: Any) -> str:
        if self.config.downsample != "auto":
            return self.config.downsample
        for part in [task.degradation, *getattr(task.degradation, "steps", [])]:
            if getattr(part, "downsample", None) in ("direct", "bicubic"):
                return part.downsample
        return "direct"

    @staticmethod
    def _forward(model: nn.Module) -> tuple[Forward, Any]:
        """A fast-weight forward and an input builder; MZSR's bicubic input is computed once."""
        if hasattr(model, "upsample"):
            return (lambda p, x: functional_call(model, p, (x[0],), {"upsampled": x[1]}),
                    lambda lr: (lr, model.upsample(lr)))
        return default_forward(model), lambda lr: lr

    def train_step(self, ctx: StepContext, batch: Batch) -> dict[str, float]:
        """One outer step over a meta-batch of kernels."""
        c = self.config
        per_task = c.support_size + c.query_size
        need = c.meta_batch_size * per_task
        hr = batch.target
        if hr.shape[0] < need:
            raise RunError(f"stage '{ctx.stage}': meta_transfer needs batch_size >= meta_batch_size * "
                           f"(support_size + query_size) = {need} HR patches, got {hr.shape[0]}")
        scale = describe(ctx.model).scale
        generator = ctx.generator or torch.Generator().manual_seed(ctx.step)
        kernels = torch.stack([self.kernel(generator) for _ in range(c.meta_batch_size)])
        hr = hr[:need]
        with torch.no_grad():
            lr = degrade(hr, kernels.repeat_interleave(per_task, 0), scale, self._downsample(ctx.task))
        hr = hr.view(c.meta_batch_size, per_task, *hr.shape[1:])
        lr = lr.view(c.meta_batch_size, per_task, *lr.shape[1:])
        forward, inputs = self._forward(ctx.model)
        params = {n: p for n, p in ctx.model.named_parameters() if p.requires_grad}
        weights = self.step_weights(ctx.step)
        meta_loss: Tensor | float = 0.0
        last_query, first_support = 0.0, 0.0
        with ctx.autocast():
            for t in range(c.meta_batch_size):
                s, q = slice(0, c.support_size), slice(c.support_size, per_task)
                loss, per_step, support0 = task_losses(
                    forward, params, (inputs(lr[t, s]), hr[t, s]), (inputs(lr[t, q]), hr[t, q]),
                    lambda a, b: ctx.loss_fn(a.float(), b.float()), c.inner_steps, c.inner_lr, c.first_order,
                    weights)
                meta_loss = meta_loss + loss / c.meta_batch_size
                last_query += float(per_step[-1].detach()) / c.meta_batch_size if per_step[-1] is not None else 0.0
                first_support += float(support0) / c.meta_batch_size
        assert isinstance(meta_loss, Tensor)
        ctx.backward_and_step(meta_loss)
        return {"loss": float(meta_loss.detach()), "support_loss_pre": first_support,
                "query_loss_post": last_query, "msl_last_weight": weights[-1]}

    def evaluate_extra(self, model: nn.Module, pairs: list[Any], metrics: dict[str, Any],
                       ctx: StepContext) -> dict[str, Any]:
        """Zero-shot adaptation on every validation image with its known kernel.

        Returns per-image and mean PSNR (Y channel, border = scale) of bicubic and of
        the model after each number of steps in ``eval_adapt_steps``, plus the gains.
        """
        c = self.config
        generator = torch.Generator().manual_seed(0)
        note = ""
        if self.eval_kernel is not None:
            kernel, downsample = self.eval_kernel(generator), None
        else:
            kernel, downsample, fixed = task_kernel(ctx.task, generator)
            if not fixed:
                note = "the task's kernel family is random: one draw was used, not each image's own kernel"
        downsample = downsample if downsample in ("direct", "bicubic") else self._downsample(ctx.task)
        scale = describe(model).scale
        steps = sorted(set(c.eval_adapt_steps))
        lr = c.inner_lr if c.eval_lr is None else c.eval_lr
        y_channel = pairs[0].target.shape[0] == 3 if pairs else False
        extra = {k: m for k, m in metrics.items() if k != "psnr"}
        records = []
        for pair in pairs:
            target = pair.target[None].float()
            record: dict[str, Any] = {"image": pair.name,
                                      "psnr_bicubic": float(psnr(pair.baseline[None], target, scale, y_channel)[0])}
            start = time.perf_counter()
            for n, adapted, son_loss in adaptation_trajectory(model, pair.lq, kernel, steps[-1], lr, scale,
                                                              downsample, ctx.loss_fn):
                if son_loss is not None:
                    record[f"son_loss_{n - 1}"] = son_loss
                if n not in steps:
                    continue
                restored = restore_image(adapted, pair.lq[None], ctx.device)
                record[f"psnr_adapt_{n}"] = float(psnr(restored, target, scale, y_channel)[0])
                # Mean intensity error in grey levels: shows how much of a gain is a global shift.
                shift = _mean_shift(restored, target, scale, y_channel)
                record[f"shift_adapt_{n}"] = shift
                # The same score with that global shift removed (an oracle diagnostic, not a result).
                unshifted = restored.double() - shift / (219.0 if y_channel else 255.0)
                record[f"psnr_unshifted_adapt_{n}"] = float(psnr(unshifted, target.double(), scale, y_channel)[0])
                for name, metric in extra.items():
                    record[f"{name}_adapt_{n}"] = float(metric(restored, target)[0])
            record["time_s"] = time.perf_counter() - start
            records.append(record)
        model.train()
        keys = [k for k in records[0] if k != "image"] if records else []
        mean = {k: sum(r[k] for r in records) / len(records) for k in keys}
        result: dict[str, Any] = {
            "kernel_size": int(kernel.shape[-1]), "downsample": downsample, "lr": lr, "steps": steps,
            "metric": f"psnr (y_channel={y_channel}, crop_border={scale})", "per_image": records, "mean": mean,
        }
        if 0 in steps:
            result["gain_over_0"] = {str(n): mean[f"psnr_adapt_{n}"] - mean["psnr_adapt_0"] for n in steps if n}
        if note:
            result["note"] = note
        return result
