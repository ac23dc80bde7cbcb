"""Contract check of training strategies: steps on fake batches, determinism, resume, evaluation."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from restorefw._task import Task
from restorefw.engine import Batch, EvalPair, StepContext, Strategy
from restorefw.testing._build import Built, Source, build_component, fail, foreign_rng, generator, images, require
from restorefw.testing._fakes import FakeDegradation, FakeLoss, FakeMetric, FakeModel

__all__ = ["check_strategy"]

_STAGE = "check"


@dataclass(frozen=True)
class _Setup:
    """How to build the strategy's surroundings afresh: model, task, loss."""

    built: Built
    spec: dict[str, Any]
    model: Callable[[], nn.Module]
    task: Task
    loss: Callable[[Tensor, Tensor], Tensor]
    input_shape: tuple[int, int, int, int]


def check_strategy(
    source: Source,
    spec: str | dict[str, Any] | None = None,
    /,
    *,
    model_spec: str | dict[str, Any] | None = None,
    task_spec: str | dict[str, Any] | None = None,
    loss_spec: str | dict[str, Any] | None = None,
    input_shape: Sequence[int] = (2, 3, 16, 16),
    steps: int = 2,
    **params: Any,
) -> Strategy:
    """Assert the strategy contract and return the built strategy.

    Runs the strategy as the engine does, on the CPU: ``prepare(model, stage)``, an optimizer over
    the parameters that still require gradients, then ``train_step(ctx, batch)`` with ``ctx.step``
    counting from 0 and a per-step ``ctx.generator``. Checks: a :class:`restorefw.Strategy` with
    bool ``uses_loss``, ``uses_degradation`` and ``supports_distributed``; each step returns a dict
    with a finite ``loss``; some trainable parameter changes and no frozen one does; a loss-free
    strategy never calls ``ctx.loss_fn``; two runs from the same seed agree whatever the global
    RNGs; a run stopped after ``steps`` steps and resumed from its model and optimizer state dicts
    (as ``restorefw run --resume`` does) ends where an uninterrupted run ends; ``model_spec``
    returns a dict and ``evaluate_extra`` a JSON-serialisable dict.

    Args:
        source: a registry (then ``spec`` names the strategy) or one registry entry.
        spec: registered name, or a spec table ``{"type": name, ...}``.
        model_spec: the model to train, from the same registry; default a small fake CNN.
        task_spec: the task whose degradation makes ``batch.lq``; default a fake noise task.
        loss_spec: the stage's loss; default L1.
        input_shape: ``(B, C, H, W)`` of the clean batches.
        steps: steps before the simulated resume (as many again after it).
        **params: the strategy's parameters.
    """
    built = build_component(source, "strategy", spec, params)
    strategy, label = built.component, built.label
    require(isinstance(strategy, Strategy), label,
            f"the factory must return a restorefw.Strategy (subclass it), got {type(strategy).__name__}")
    for flag in ("uses_loss", "uses_degradation", "supports_distributed"):
        require(isinstance(getattr(strategy, flag), bool), label, f"'{flag}' must be a bool")
    setup = _setup(built, model_spec, task_spec, loss_spec, tuple(input_shape))  # type: ignore[arg-type]
    with foreign_rng(1):
        model, losses, _ = _train(setup, strategy, 0, 2 * steps)
    with foreign_rng(2):
        again, again_losses, _ = _train(setup, built.rebuild(), 0, 2 * steps)
    require(losses == again_losses and _equal(model, again), label,
            "two runs from the same seed differ: draw random numbers from ctx.generator (or the batch), never "
            f"from the global RNG (losses {losses} vs {again_losses})")
    _, _, state = _train(setup, built.rebuild(), 0, steps)
    resumed, resumed_losses, _ = _train(setup, built.rebuild(), steps, 2 * steps, state=_round_trip(state))
    require(resumed_losses == losses[steps:] and _equal(resumed, model), label,
            f"resuming after step {steps} from the model and optimizer state dicts does not continue the run "
            f"(losses {losses[steps:]} vs {resumed_losses}): keep no state the engine does not save; derive it "
            "from ctx.step, the model and the optimizer")
    spec_after = strategy.model_spec(dict(setup.spec))
    require(isinstance(spec_after, dict), label,
            f"model_spec(spec) must return a dict, got {type(spec_after).__name__}")
    _check_evaluate_extra(setup, strategy, model, label)
    return strategy


def _setup(built: Built, model_spec: Any, task_spec: Any, loss_spec: Any,
           input_shape: tuple[int, int, int, int]) -> _Setup:
    registry = built.registry
    channels = input_shape[1]
    resolved = registry.resolve("model", model_spec) if model_spec is not None else {"type": "fake"}
    if model_spec is not None:
        make_model: Callable[[], nn.Module] = lambda: registry.build("model", resolved)  # noqa: E731
    else:
        make_model = lambda: FakeModel(channels)  # noqa: E731
    task = registry.create("task", task_spec) if task_spec is not None else Task("fake", FakeDegradation())
    loss = registry.create("loss", loss_spec) if loss_spec is not None else FakeLoss()
    return _Setup(built, resolved, make_model, task, loss, input_shape)


def _train(setup: _Setup, strategy: Strategy, start: int, end: int,
           state: dict[str, Any] | None = None) -> tuple[nn.Module, list[float], dict[str, Any]]:
    """Train a fresh model from ``start`` to ``end`` as the runner does (continuing from ``state`` when
    given); returns it, the losses and what the engine would save to resume it."""
    label = setup.built.label
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0 if state is None else 1)
        model = setup.model()
    if state is not None:
        model.load_state_dict(state["model"])
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    strategy.prepare(model, _STAGE)
    # Frozen by prepare(): these must stay as they are (a strategy may still freeze more mid-stage).
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    trainable = [p for p in model.parameters() if p.requires_grad]
    require(trainable, label, "prepare() left no parameter to train (every parameter is frozen)")
    optimizer = torch.optim.Adam(trainable, lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
    ctx = StepContext(model=model, loss_fn=setup.loss if strategy.uses_loss else _no_loss(label),
                      optimizer=optimizer, scheduler=scheduler, task=setup.task, device=torch.device("cpu"),
                      precision="fp32", stage=_STAGE)
    losses = []
    for step in range(start, end):
        ctx.step, ctx.generator = step, generator(10_000 + step)
        hr = images(setup.input_shape, seed=step)
        lq, target = setup.task.degradation(hr, generator(step)) if strategy.uses_degradation else (hr, hr)
        logs = strategy.train_step(ctx, Batch(lq, target))
        require(isinstance(logs, dict) and "loss" in logs, label,
                f"train_step must return a dict of values to log with at least 'loss', got {logs!r}")
        loss = float(logs["loss"])
        require(math.isfinite(loss), label, f"train_step logged a non-finite loss {loss} at step {step}")
        losses.append(loss)
    after = dict(model.named_parameters())
    changed = [n for n in frozen if n in before and not torch.equal(before[n], after[n])]
    require(not changed, label, f"parameters frozen by prepare() changed: {changed[:3]}")
    if state is None and end > start:
        require(any(not torch.equal(before[n], p) for n, p in after.items() if n in before), label,
                f"{end - start} steps changed no parameter: train_step must call ctx.backward_and_step(loss)")
    saved = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
    return model, losses, saved


def _round_trip(state: dict[str, Any]) -> dict[str, Any]:
    """The state through the file the engine writes for resume."""
    from restorefw.weights import load_state, save_state

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "last.state.pt"
        save_state(path, state)
        return load_state(path)


def _equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _no_loss(label: str) -> Callable[[Tensor, Tensor], Tensor]:
    def unused(pred: Tensor, target: Tensor) -> Tensor:
        fail(label, "declares uses_loss = False but called ctx.loss_fn")

    return unused


def _check_evaluate_extra(setup: _Setup, strategy: Strategy, model: nn.Module, label: str) -> None:
    hr = images((1, *setup.input_shape[1:]), seed=99)
    lq, target = setup.task.degradation(hr, generator(99))
    pairs = [EvalPair("check", lq[0], target[0], target[0])]
    ctx = StepContext(model=model, loss_fn=setup.loss, optimizer=torch.optim.SGD(model.parameters(), lr=0.0),
                      scheduler=None, task=setup.task, device=torch.device("cpu"), precision="fp32", stage=_STAGE)
    extra = strategy.evaluate_extra(model, pairs, {"fake_mae": FakeMetric()}, ctx)
    require(isinstance(extra, dict), label, f"evaluate_extra must return a dict, got {type(extra).__name__}")
    try:
        json.dumps(extra, allow_nan=True)
    except (TypeError, ValueError) as exc:
        fail(label, f"evaluate_extra's result is stored in summary.json but is not JSON-serialisable: {exc}")
