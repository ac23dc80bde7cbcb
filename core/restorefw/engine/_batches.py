"""Training batches as pure functions of (seed, rank, stage, step, micro-batch)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor

from restorefw._recipe import Recipe, as_recipe
from restorefw._registry import Registry
from restorefw.engine._blame import build_blamed
from restorefw.engine._strategy import Batch

__all__ = ["BatchMaker", "Prefetcher", "batch_seed"]

Key = tuple[int, int, int]
"""(stage index, step, micro-batch) of one batch."""


def batch_seed(seed: int, stage_index: int, step: int, micro: int = 0) -> int:
    """Seed of one (global) training batch; resume is exact because nothing else feeds the sampler."""
    return (seed * 1_000_003 + stage_index * 100_003 + step * 16 + micro) % (2**63)


class BatchMaker:
    """Samples and degrades the training batches of every stage (a stage may bring its own ``train`` data).

    Under torchrun every rank draws the same global batch of ``batch_size × world_size`` images and
    keeps its own slice, so N processes with batch b train on exactly what one process with batch N·b
    would (sampling and degradation cost far less than a training step).
    """

    def __init__(self, recipe: Mapping[str, Any] | Recipe, registry: Registry, dataset: Any, default_task: Any,
                 rank: int = 0, world_size: int = 1) -> None:
        self.recipe, self.rank, self.world_size = as_recipe(recipe), rank, world_size
        self.seed = self.recipe.run.seed
        stages = self.recipe.stages
        self.tasks = [build_blamed(registry, "task", s.task) if s.task else default_task for s in stages]
        self.datasets = [registry.build("dataset", s.train) if s.train else dataset for s in stages]

    def shape(self, index: int, step: int) -> tuple[int, int]:
        """(batch size, patch size) of a step, following the stage's progressive phases."""
        stage, data = self.recipe.stages[index], self.recipe.data
        remaining = step
        for phase in stage.phases:
            if remaining < phase.steps:
                return phase.batch_size, phase.patch_size
            remaining -= phase.steps
        return stage.batch_size or data.batch_size, stage.patch_size or data.patch_size

    def check_sizes(self) -> None:
        """Every training image must hold the largest patch of every stage."""
        from restorefw.data import check_min_size

        for index, stage in enumerate(self.recipe.stages):
            patches = [p.patch_size for p in stage.phases] or [self.shape(index, 0)[1]]
            check_min_size(self.datasets[index], max(patches), self.tasks[index].scale)

    def generator(self, index: int, step: int, micro: int = 0, salt: int = 0) -> torch.Generator:
        """The generator of one (micro-)step; ``salt`` separates independent streams."""
        return torch.Generator().manual_seed(batch_seed(self.seed, index, step, micro) ^ salt)

    def make(self, index: int, step: int, micro: int, pin: bool = False, degrade: bool = True) -> tuple[Tensor, Tensor]:
        """This rank's ``(lq, target)`` of one micro-step, on the CPU (in pinned memory with ``pin``).

        Without ``degrade`` the task's degradation is skipped and ``lq`` is the clean target
        (paired data is read as it is).
        """
        from restorefw.data import sample_batch

        batch_size, patch = self.shape(index, step)
        generator = self.generator(index, step, micro)
        sampled = sample_batch(self.datasets[index], batch_size * self.world_size, patch, generator,
                               augment=self.recipe.data.augment)
        if isinstance(sampled, tuple):
            lq, target = sampled
        else:
            lq, target = self.tasks[index].degradation(sampled, generator) if degrade else (sampled, sampled)
        mine = slice(self.rank * batch_size, (self.rank + 1) * batch_size)
        pair = lq[mine], target[mine]
        return tuple(t.pin_memory() for t in pair) if pin else pair  # type: ignore[return-value]

    def __call__(self, index: int, step: int, micro: int, device: torch.device, degrade: bool = True) -> Batch:
        lq, target = self.make(index, step, micro, degrade=degrade)
        return Batch(lq.to(device, non_blocking=True), target.to(device, non_blocking=True))


class Prefetcher:
    """Makes the next batch in a background thread while the current step runs.

    Batches are pure functions of their key (see :class:`BatchMaker`), so a run is the same
    with or without prefetching; on CUDA they come in pinned memory and are copied without
    blocking. Errors of a batch surface when that batch is asked for.
    """

    def __init__(self, maker: BatchMaker, device: torch.device, pool: ThreadPoolExecutor, degrade: bool = True) -> None:
        self.maker, self.device, self.pool, self.degrade = maker, device, pool, degrade
        self.pin = device.type == "cuda"
        self.pending: dict[Key, Future[tuple[Tensor, Tensor]]] = {}

    def __call__(self, key: Key, following: Key | None) -> Batch:
        """The batch of ``key``; starts making ``following`` in the background."""
        future = self.pending.pop(key, None)
        lq, target = future.result() if future is not None else self.maker.make(*key, self.pin, self.degrade)
        if following is not None and following not in self.pending:
            self.pending[following] = self.pool.submit(self.maker.make, *following, self.pin, self.degrade)
        return Batch(lq.to(self.device, non_blocking=True), target.to(self.device, non_blocking=True))

    @classmethod
    @contextmanager
    def running(cls, maker: BatchMaker, device: torch.device, degrade: bool = True) -> Iterator[Prefetcher]:
        """A prefetcher whose thread ends, unfinished work dropped, when the block does."""
        with ThreadPoolExecutor(1, thread_name_prefix="restorefw-batches") as pool:
            prefetcher = cls(maker, device, pool, degrade)
            try:
                yield prefetcher
            finally:
                for future in prefetcher.pending.values():
                    future.cancel()
