"""The contract probe: every component of a recipe built and run once on a tiny input, before training.

A component that breaks its hook's contract (a degradation returning a bare tensor, a metric
returning one number for a batch, a head whose width does not fit the body) would otherwise fail
deep inside a run, after minutes of training, with an error that names neither it nor its plugin.
The probe finds it first and names component, plugin and what was expected. It stays cheap: the
model runs on the meta device (shapes only, no memory, no arithmetic), everything else on a
batch of two small images.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from restorefw._errors import RestorefwError
from restorefw._recipe import Recipe
from restorefw._registry import Registry
from restorefw._task import Task
from restorefw.engine._blame import Traced, blame, build_blamed, build_traced, first_line, label
from restorefw.models import describe

__all__ = ["probe_recipe"]

Problems = list[tuple[str, str]]

_MAX_SIDE = 96
"""Largest side of the probe's images: big enough for any kernel, small enough to cost nothing."""

_CPU_FALLBACK_PARAMS = 2_000_000
"""A model whose forward cannot run on the meta device is run on the CPU when it is this small."""


def probe_recipe(plan: Recipe, registry: Registry) -> Problems:
    """Build every component of ``plan`` and run it once; returns ``(TOML path, problem)`` pairs.

    Checks each task's degradation on a batch of the recipe's channels and patch size, the model's
    forward on the resulting input (parts and heads/tails named when one of them fails), each
    metric on a (prediction, target) pair, each stage's strategy, loss, optimizer and scheduler.
    The global RNGs are left as they were.
    """
    # Components may draw from the global RNG while they are built; the run must not notice.
    with torch.random.fork_rng(devices=[]):
        return _Probe(plan, registry).run()


class _Probe:
    def __init__(self, plan: Recipe, registry: Registry) -> None:
        self.plan, self.registry = plan, registry
        self.problems: Problems = []
        self.generator = torch.Generator().manual_seed(0)

    def run(self) -> Problems:
        with torch.device("meta"):
            model = build_traced(self.registry, "model", self.plan.model)
        info = describe(model.component)
        stages: list[tuple[Any, tuple[Tensor, Tensor] | None]] = []
        for i, stage in enumerate(self.plan.stages):
            strategy = self._strategy(i)
            patch = stage.phases[0].patch_size if stage.phases else stage.patch_size or self.plan.data.patch_size
            batch = self._degrade(f"stages[{i}].task" if stage.task else "task", stage.task or self.plan.task,
                                  patch, info.in_channels, info.size_multiple,
                                  getattr(strategy, "uses_degradation", True))
            stages.append((strategy, batch))
            self._optimizer(i)
        evaluated = self._degrade("task", self.plan.task, self.plan.data.patch_size, info.in_channels,
                                  info.size_multiple, True)
        first = stages[0][1] or evaluated
        out_channels = self._forward(model, first[0], info.scale) if first is not None else None
        for i, (strategy, batch) in enumerate(stages):
            # Only where the model's output is comparable with the target: a segmentation loss takes
            # logits and masks, which an image task's batch cannot stand in for.
            if batch is not None and getattr(strategy, "uses_loss", True) and out_channels == batch[1].shape[1]:
                self._loss(i, batch[1])
        self._metrics(evaluated[1] if evaluated is not None else torch.rand(2, info.in_channels, 32, 32,
                                                                            generator=self.generator))
        return list(dict.fromkeys(self.problems))

    def _strategy(self, i: int) -> Any:
        spec = self.plan.stages[i].strategy
        try:
            strategy = build_traced(self.registry, "strategy", spec).component
        except RestorefwError as exc:
            self.problems.append((f"stages[{i}].strategy", str(exc)))
            return None
        if not all(callable(getattr(strategy, m, None)) for m in ("prepare", "train_step", "evaluate_extra")):
            self.problems.append((f"stages[{i}].strategy", f"{label(self.registry, 'strategy', spec)}: the factory "
                                  f"returned {type(strategy).__name__}, expected a restorefw.Strategy"))
        return strategy

    def _degrade(self, path: str, spec: Any, patch: int, channels: int, multiple: int,
                 degrade: bool) -> tuple[Tensor, Tensor] | None:
        """``(lq, target)`` of a batch of two clean images through the task's degradation."""
        try:
            task = build_blamed(self.registry, "task", spec)
        except RestorefwError as exc:
            self.problems.append((path, str(exc)))
            return None
        if not isinstance(task, Task):
            self.problems.append((path, f"{label(self.registry, 'task', spec)}: the factory returned "
                                        f"{type(task).__name__}, expected a restorefw.Task"))
            return None
        unit = task.scale * multiple
        side = max(unit, min(patch, _MAX_SIDE) // unit * unit)
        hr = torch.rand(2, channels, side, side, generator=self.generator)
        if not degrade:
            return hr, hr
        try:
            lq, target = task.degradation(hr, torch.Generator().manual_seed(0))
        except RestorefwError as exc:
            self.problems.append((path, str(exc)))
            return None
        who = getattr(task.degradation, "_who", label(self.registry, "task", spec))
        want_lq, want_target = (2, channels, side // task.scale, side // task.scale), tuple(hr.shape)
        if lq.dim() != 4 or lq.shape[0] != 2 or lq.shape[-2:] != want_lq[-2:] or \
                target.dim() != 4 or target.shape[0] != 2 or target.shape[-2:] != want_target[-2:]:
            self.problems.append((path, f"{who}: degrade(hr, generator) on hr {want_target} gave lq "
                                        f"{tuple(lq.shape)} and target {tuple(target.shape)}, expected (B, C, H, W) "
                                        f"batches: lq {want_lq} and target {want_target} (scale {task.scale})"))
            return None
        if lq.shape[1] != channels:
            self.problems.append((path, f"{who}: lq has {lq.shape[1]} channels, the model takes {channels}"))
            return None
        return lq, target

    def _forward(self, model: Traced, lq: Tensor, scale: int) -> int | None:
        """The model's forward on the meta device (on the CPU when it computes something data-dependent
        and is small), with each nested part watched so that a failing head or tail is named.

        Returns the channels of its output, if it gave a well-formed one.
        """
        who = label(self.registry, "model", self.plan.model)
        x = torch.empty(lq.shape, device="meta")
        out, failure, exc = _watched(model, x, who)
        if exc is not None and "meta" in str(exc).lower():
            # Not the model's fault: it computes on values (an .item(), a data-dependent branch).
            if sum(p.numel() for p in model.component.parameters()) > _CPU_FALLBACK_PARAMS:
                return None
            x = lq
            out, failure, exc = _watched(build_traced(self.registry, "model", self.plan.model), x, who)
        if failure is not None:
            self.problems.append(("model", failure))
            return None
        b, _, h, w = x.shape
        if not (isinstance(out, Tensor) and out.dim() == 4 and out.shape[0] == b
                and out.shape[-2:] == (h * scale, w * scale)):
            got = f"shape {tuple(out.shape)}" if isinstance(out, Tensor) else type(out).__name__
            self.problems.append(("model", f"{who}: forward on a {tuple(x.shape)} input gave {got}, expected "
                                           f"({b}, C, {h * scale}, {w * scale}): its scale is {scale}"))
            return None
        return int(out.shape[1])

    def _noisy(self, target: Tensor) -> Tensor:
        """A prediction near ``target``: what a metric or a loss compares with it."""
        return (target + 0.05 * torch.randn(target.shape, generator=self.generator)).clamp(0, 1)

    def _metrics(self, target: Tensor) -> None:
        pred = self._noisy(target)
        for j, spec in enumerate(self.plan.eval.metrics):
            try:
                build_blamed(self.registry, "metric", spec)(pred, target)
            except RestorefwError as exc:
                self.problems.append((f"eval.metrics[{j}]", str(exc)))

    def _loss(self, i: int, target: Tensor) -> None:
        stage = self.plan.stages[i]
        pred = self._noisy(target)
        try:
            with torch.no_grad():
                build_blamed(self.registry, "loss", stage.loss)(pred, target)
        except RestorefwError as exc:
            self.problems.append((f"stages[{i}].loss", str(exc)))

    def _optimizer(self, i: int) -> None:
        """The stage's optimizer made for one parameter, and its schedule for that optimizer."""
        stage = self.plan.stages[i]
        param = nn.Parameter(torch.zeros(1))
        optimizer = self._made(i, "optimizer", "make(params)", lambda make: make([param]), torch.optim.Optimizer)
        if optimizer is not None:
            self._made(i, "scheduler", "make(optimizer, total_steps)", lambda make: make(optimizer, stage.steps),
                       torch.optim.lr_scheduler.LRScheduler)

    def _made(self, i: int, key: str, call: str, make: Any, expected: type) -> Any:
        spec = getattr(self.plan.stages[i], key)
        who = label(self.registry, key, spec)
        try:
            with blame(who, call):
                made = make(build_traced(self.registry, key, spec).component)
        except RestorefwError as exc:
            self.problems.append((f"stages[{i}].{key}", str(exc)))
            return None
        if not isinstance(made, expected):
            self.problems.append((f"stages[{i}].{key}", f"{who}: {call} returned {type(made).__name__}, expected "
                                                        f"a {expected.__module__}.{expected.__name__}"))
            return None
        return made


def _watched(model: Traced, x: Tensor, who: str) -> tuple[Any, str | None, Exception | None]:
    """``model(x)`` under ``no_grad`` in eval mode: ``(output, None, None)``, or on failure
    ``(None, problem, exception)`` naming the innermost nested part that was running, or else the
    last one that finished (a head whose features the body could not take)."""
    net: nn.Module = model.component
    running: list[tuple[str, nn.Module, tuple[int, ...]]] = []
    finished: list[tuple[str, Any]] = []
    handles = []
    for module in net.modules():
        part = model.parts.get(id(module))
        if part is not None and module is not net:
            handles += [module.register_forward_pre_hook(_enter(running, part)),
                        module.register_forward_hook(_leave(running, finished, part))]
    net.eval()
    try:
        with torch.no_grad():
            return net(x), None, None
    except Exception as exc:
        if running:
            part, module, shape = running[-1]
            why = _on_cpu(module, shape) or first_line(exc)
            return None, f"{part}, inside {who}, failed on its {shape} input: {why}", exc
        after = ""
        if finished:
            part, out = finished[-1]
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            after = f" after {part} gave {shape}, which the rest of the model could not take"
        return None, f"{who}: forward on a {tuple(x.shape)} input failed{after}: {first_line(exc)}", exc
    finally:
        for handle in handles:
            handle.remove()


def _on_cpu(module: nn.Module, shape: tuple[int, ...]) -> str | None:
    """The error a small part raises on the CPU for an input of ``shape``: torch's CPU kernels say
    more (which channels were expected) than its meta kernels."""
    if not shape or sum(p.numel() for p in module.parameters()) > _CPU_FALLBACK_PARAMS:
        return None
    try:
        with torch.no_grad():
            copy.deepcopy(module).to_empty(device="cpu")(torch.zeros(shape))
    except Exception as exc:
        return first_line(exc)
    return None


def _enter(running: list[Any], who: str) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
        first = args[0] if args else None
        running.append((who, module, tuple(first.shape) if isinstance(first, Tensor) else ()))
    return hook


def _leave(running: list[Any], finished: list[Any], who: str) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        running.pop()
        finished.append((who, out))
    return hook
