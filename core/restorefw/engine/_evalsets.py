"""The test sets of an evaluation: folders in the layouts labs keep, or a run's own validation set.

Every set is opened (layout detected, files matched, headers checked) before anything is
written; images are read one at a time while the models run.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from restorefw._errors import DataError, RegistryError
from restorefw._recipe import as_recipe
from restorefw._registry import Registry
from restorefw._task import Task
from restorefw.data import EvalProtocol, Layout, TestSet, get_protocol, in_detection_order, load_testset
from restorefw.engine._evalmodels import EvalModel
from restorefw.engine._evaluate import baseline_image, degrade_seeded, make_eval_pairs

__all__ = ["EvalItem", "EvalSet", "SetRequest", "open_sets", "registered_layouts", "validation_set"]


@dataclass(frozen=True)
class SetRequest:
    """A test set as named on the command line or in ``[eval] sets``.

    Attributes:
        path: the test-set folder.
        layout: a registered layout; ``None`` to detect it.
        scale: the super-resolution factor; ``None`` for each model's own.
        options: the layout's options.
    """

    path: str
    layout: str | None = None
    scale: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class EvalItem:
    """One image to score: ``(1, C, h, w)`` input, ``(1, C, H, W)`` target and baseline, and its kernel."""

    name: str
    lq: Tensor
    target: Tensor
    baseline: Tensor
    kernel: Tensor | None


@dataclass
class EvalSet:
    """A test set ready to score, with its protocol and the models that fit it.

    Attributes:
        key: the column name in tables (``Set5 x2``).
        protocol: how it is scored.
        models: labels of the models scored on it (those of its scale).
        size: the number of images scored.
        items: reads the images, one at a time.
        info: what ``eval.json`` records about it.
        metric_specs: a recipe's own metric specs (a run's validation); ``None``: the protocol's metrics.
        tile: a recipe's ``(tile, overlap, mode)`` for a run's validation; ``None``: the command's.
        threads: the CPU threads a run validated with (``run.threads``); ``None``: as they are.
    """

    key: str
    protocol: EvalProtocol
    models: list[str]
    size: int
    items: Callable[[], Iterator[EvalItem]] = field(repr=False)
    info: dict[str, Any] = field(default_factory=dict)
    metric_specs: list[dict[str, Any]] | None = None
    tile: tuple[int | None, int, str] | None = None
    threads: int | None = None


def registered_layouts(registry: Registry) -> tuple[Layout, ...]:
    """The layouts of the installed plugins and the core, in detection order.

    Raises:
        RegistryError: a layout whose ``name`` is not the name it was registered under.
    """
    layouts = []
    for entry in registry.list("layout"):
        layout = registry.create("layout", entry.name)
        if getattr(layout, "name", None) != entry.name:
            raise RegistryError(f"layout '{entry.name}' from {entry.origin} calls itself "
                                f"'{getattr(layout, 'name', None)}'; expected the registered name")
        layouts.append(layout)
    return in_detection_order(layouts)


def default_protocol(testset: TestSet) -> str:
    """The protocol a set is scored by when none is named: MZSR's for its layout, BasicSR's otherwise."""
    if testset.layout == "mzsr":
        return "mzsr"
    return "sr" if testset.scale > 1 else "restore"


def open_sets(requests: Sequence[SetRequest], models: Sequence[EvalModel], registry: Registry, *,
              protocol: Mapping[str, Any] | None = None, task: Mapping[str, Any] | str | None = None,
              limit: int | None = None) -> list[EvalSet]:
    """Opens each test set at the scale of each model that will be scored on it.

    Args:
        requests: the sets.
        models: the models; a set is opened once per distinct model scale (or at its own ``scale``).
        registry: for layouts, metrics and tasks.
        protocol: ``{"name": ..., key: value}``; the name defaults per set (:func:`default_protocol`).
        task: the task that makes inputs for sets of ground truth only; default: the models'.
        limit: score at most this many images per set.

    Raises:
        DataError: a set that cannot be used, or a model whose scale does not fit it; one line
            naming the file, folder or option (and the model).
        ConfigError: an unknown protocol or protocol key.
    """
    layouts = registered_layouts(registry)
    opened: list[EvalSet] = []
    for request in requests:
        scales: dict[int, list[str]] = {}
        for model in models:
            scale = request.scale or model.info.scale
            if request.scale is not None and model.info.scale != request.scale:
                raise DataError(f"model '{model.label}' is x{model.info.scale} but test set '{request.path}' is "
                                f"asked for at x{request.scale}; expected the model's scale")
            scales.setdefault(scale, []).append(model.label)
        for scale, labels in scales.items():
            try:
                testset = load_testset(request.path, request.layout, scale=scale, layouts=layouts, **request.options)
            except DataError as exc:
                if request.scale is not None or (scale == 1 and "scale" not in str(exc)):
                    raise
                # The scale came from a model: say which, since a mismatch is the likely cause.
                raise DataError(f"{exc} (scored at x{scale}, the scale of model '{labels[0]}')") from None
            scored = [m for m in models if m.label in labels]
            opened.append(_testset(testset, labels, protocol, _task_for(testset, scored, task, registry), limit))
    _unique_keys(opened)
    return opened


def validation_set(model: EvalModel, registry: Registry, limit: int | None = None,
                   seed: int | None = None) -> EvalSet:
    """The validation set of a run (or recipe), degraded and scored exactly as its runner does.

    Args:
        model: a model with a recipe.
        registry: for the dataset, task and metrics.
        limit: score at most this many images.
        seed: the degradations' seed; default: the run's (``run.seed``), as its validation had.

    Raises:
        DataError: the recipe has no ``data.val``.
    """
    assert model.recipe is not None
    plan = as_recipe(model.recipe)
    if plan.data.val is None or plan.task is None:
        raise DataError(f"'{model.source}' has no validation set (data.val, with a task) to score; name a test set")
    task = registry.build("task", plan.task)
    seed = plan.run.seed if seed is None else seed
    pairs = make_eval_pairs(registry.build("dataset", plan.data.val), task, seed, plan.data.val_max_size)[:limit]
    ev = plan.eval
    protocol = EvalProtocol(name="recipe", source=f"[eval] and data.val of {model.source}",
                            metrics=tuple(spec["type"] for spec in ev.metrics), y_channel=bool(ev.y_channel),
                            crop_border=ev.crop_border or 0, round_8bit=False, seed=seed)

    def items() -> Iterator[EvalItem]:
        for pair in pairs:
            yield EvalItem(pair.name, pair.lq[None], pair.target[None], pair.baseline[None], None)

    info = {"name": "val", "layout": "recipe", "root": model.source, "scale": task.scale, "images": len(pairs),
            "dataset": plan.data.val, "max_size": plan.data.val_max_size, "task": plan.task, "seed": seed,
            "threads": plan.run.threads}
    # CPU convolutions sum in an order that depends on the thread count: the run's own keeps its scores.
    return EvalSet("val", protocol, [model.label], len(pairs), items, info, list(ev.metrics),
                   (ev.tile, ev.tile_overlap, ev.tile_mode), plan.run.threads)


def merge_validation_sets(sets: list[EvalSet]) -> list[EvalSet]:
    """Runs validated on the same images, task and seed share one column; the others get their own."""
    merged: dict[str, EvalSet] = {}
    for item in sets:
        # Everything that decides the pairs and the scores; not where the run lies.
        same = ({k: v for k, v in item.info.items() if k != "root"}, item.metric_specs, item.tile,
                item.protocol.model_dump(exclude={"source"}))
        identity = json.dumps(same, sort_keys=True, default=str)
        if identity in merged:
            merged[identity].models.extend(item.models)
        else:
            merged[identity] = item
    result = list(merged.values())
    if len(result) > 1:
        for item in result:
            item.key = f"val:{item.models[0]}"
    return result


def _testset(testset: TestSet, labels: list[str], protocol: Mapping[str, Any] | None, task: Task | None,
             limit: int | None) -> EvalSet:
    spec = dict(protocol or {})
    chosen = get_protocol(spec.pop("name", None) or default_protocol(testset), spec)

    def items() -> Iterator[EvalItem]:
        decoded = itertools.islice(testset.decoded(crop_gt=chosen.gt_mod_crop), limit)
        for index, (name, lq, gt, kernel) in enumerate(decoded):
            target = gt[None]
            if lq is None:
                assert task is not None
                made, target = degrade_seeded(task, target, chosen.seed, index)
            else:
                made = lq[None]
            made = made.clamp(0, 1) if chosen.clip_lq else made
            yield EvalItem(name, made, target, baseline_image(made, target, task), kernel)

    size = len(testset) if limit is None else min(limit, len(testset))
    key = testset.name + (f" x{testset.scale}" if testset.scale > 1 else "")
    info = {"name": testset.name, "layout": testset.layout, "root": str(testset.root), "scale": testset.scale,
            "channels": testset.channels, "images": size, "names": testset.names[:size]}
    return EvalSet(key, chosen, list(labels), size, items, info)


def _task_for(testset: TestSet, models: Sequence[EvalModel], task: Mapping[str, Any] | str | None,
              registry: Registry) -> Task | None:
    """The task that makes the inputs of a set of ground truth only: the one named, or the models' one."""
    if testset.paired:
        return None
    if task is None:
        known = {json.dumps(m.task, sort_keys=True): m.task for m in models if m.task is not None}
        if len(known) != 1:
            why = "the models were trained for different tasks" if known else "no model says what it was trained for"
            raise DataError(f"test set '{testset.root}' holds ground truth only ({testset.layout}) and {why}; "
                            "name the degradation with --task (e.g. --task denoise --set task.sigma=25)")
        task = next(iter(known.values()))
    built: Task = registry.create("task", task)
    if built.scale != testset.scale:
        raise DataError(f"task '{built.name}' is x{built.scale} but test set '{testset.root}' is scored at "
                        f"x{testset.scale}; expected the models' scale")
    return built


def _unique_keys(sets: list[EvalSet]) -> None:
    """Sets of the same name from different folders get the folder in their column name."""
    counts: dict[str, int] = {}
    for item in sets:
        counts[item.key] = counts.get(item.key, 0) + 1
    for item in sets:
        if counts[item.key] > 1:
            item.key = f"{item.key} ({Path(item.info['root']).parent.name or item.info['root']})"
