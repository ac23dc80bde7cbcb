"""The training-strategy contract and the per-step context the engine hands it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from restorefw._errors import RunError
from restorefw._task import Task
from restorefw.engine._device import autocast

__all__ = ["Batch", "StepContext", "Strategy"]


@dataclass
class Batch:
    """A training batch: model input and the target it should produce."""

    lq: Tensor
    target: Tensor
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepContext:
    """Everything a strategy may use during one stage.

    The engine owns the optimizer, scaler, clipping and NaN policy; strategies
    call :meth:`backward_and_step` rather than touching them directly.
    """

    model: nn.Module
    loss_fn: Callable[[Tensor, Tensor], Tensor]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    task: Task
    device: torch.device
    precision: str
    stage: str
    step: int = 0
    clip_grad_norm: float | None = None
    nan_policy: str = "stop"
    scaler: Any = None
    generator: torch.Generator | None = None
    """Per-step generator for strategies that draw their own randomness (a pure function of the step)."""
    skipped_steps: int = 0
    accumulate: int = 1
    """Micro-batches per optimizer step (gradient accumulation)."""
    micro: int = 0
    """Index of the current micro-batch within the optimizer step."""

    def autocast(self) -> Any:
        """Autocast for this stage's precision."""
        return autocast(self.device, self.precision)

    def trainable(self) -> Iterator[Tensor]:
        """Parameters the optimizer updates."""
        for group in self.optimizer.param_groups:
            yield from group["params"]

    def backward_and_step(self, loss: Tensor) -> bool:
        """Backward; on the last micro-batch also clip and step optimizer and scheduler.

        Returns False if the step was skipped. A non-finite loss or gradient
        stops the run with :class:`RunError` naming stage and step, or skips the
        step when ``nan_policy='skip'``.
        """
        from restorefw.engine._distributed import no_sync

        if not math.isfinite(loss.item()):
            return self._non_finite("loss")
        if self.micro == 0:
            self.optimizer.zero_grad(set_to_none=True)
        last = self.micro == self.accumulate - 1
        scaled = loss / self.accumulate
        with no_sync(self.model, skip=not last):
            (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
        if not last:
            return True
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        params = [p for p in self.trainable() if p.grad is not None]
        if self.clip_grad_norm:
            norm = torch.nn.utils.clip_grad_norm_(params, self.clip_grad_norm)
        else:
            norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])) if params else None
        if norm is not None and not torch.isfinite(norm) and self.scaler is None:
            self.optimizer.zero_grad(set_to_none=True)
            return self._non_finite("gradient")
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        return True

    def _non_finite(self, what: str) -> bool:
        if self.nan_policy == "skip":
            self.skipped_steps += 1
            self.optimizer.zero_grad(set_to_none=True)
            return False
        raise RunError(f"non-finite {what} in stage '{self.stage}' at step {self.step}; the last checkpoint is kept")


class Strategy:
    """Base class of training strategies: plain supervised training by default.

    Subclasses override :meth:`prepare`, :meth:`compute_loss` or, for
    non-standard updates (meta-learning), :meth:`train_step`.
    """

    #: Whether the stage needs a loss component from the recipe.
    uses_loss: bool = True
    #: Whether steps read ``batch.lq``; if not, the task's degradation is not run and ``lq`` is the clean target.
    uses_degradation: bool = True
    #: Whether the strategy runs under torchrun/DDP (it must do its forward through ``ctx.model``).
    supports_distributed: bool = True

    def prepare(self, model: nn.Module, stage: str) -> None:
        """Called once before a stage starts (freeze parts, add heads, ...)."""

    def model_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The model spec after :meth:`prepare` (a strategy that prunes or grows the model says how).

        It is stored in checkpoint metadata, so ``restorefw restore`` rebuilds the model as it is now.
        """
        return spec

    def compute_loss(self, model: nn.Module, batch: Batch, ctx: StepContext) -> tuple[Tensor, dict[str, float]]:
        """The loss of one batch and extra values to log."""
        pred = model(batch.lq)
        return ctx.loss_fn(pred.float(), batch.target.float()), {}

    def train_step(self, ctx: StepContext, batch: Batch) -> dict[str, float]:
        """One optimisation step; returns values to log (at least ``loss``)."""
        with ctx.autocast():
            loss, logs = self.compute_loss(ctx.model, batch, ctx)
        ctx.backward_and_step(loss)
        return {"loss": float(loss.detach()), **logs}

    def evaluate_extra(self, model: nn.Module, pairs: list[Any], metrics: dict[str, Any],
                       ctx: StepContext) -> dict[str, Any]:
        """Strategy-specific evaluation at the end of a stage, stored in ``summary.json``.

        Args:
            model: the trained model.
            pairs: validation :class:`~restorefw.engine.EvalPair` objects.
            metrics: the recipe's metrics by name.
            ctx: the stage context.
        """
        return {}
