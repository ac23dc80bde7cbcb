"""``restorefw eval`` as a job: models and test sets checked, then scored into an evaluation folder.

Every model is built and every test set opened (layout, names, sizes, channels) before the folder
is created, so bad input costs nothing on disk. The folder follows the run-folder rules (marker,
lock, ``--overwrite`` only of a recognised folder); rows reach ``eval.csv`` as they are scored and
``eval.json``, written last, marks the folder complete.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from restorefw._errors import CheckpointError, ConfigError, DataError, RestorefwError, RunError
from restorefw._recipe import apply_overrides, dump_recipe
from restorefw._registry import Registry
from restorefw.engine._device import resolve_device, resolve_precision
from restorefw.engine._evalmodels import EvalModel, load_eval_model, recipe_model
from restorefw.engine._evalout import CSV_FILE, JSON_FILE, EvalWriter
from restorefw.engine._evalscore import Inference, Scorer, measured, no_tf32, run_model, threads
from restorefw.engine._evalsets import EvalSet, SetRequest, merge_validation_sets, open_sets, validation_set
from restorefw.engine._evaltable import BASELINE, Results, row_name
from restorefw.engine._progress import Progress
from restorefw.engine._runfolder import RunFolder
from restorefw.engine._runner import RunInterrupted, environment
from restorefw.weights import atomic_write

__all__ = ["EvalOutcome", "EvalRequest", "run_eval"]

_SECTIONS = ("protocol", "layout", "task")


@dataclass(frozen=True)
class EvalRequest:
    """What the user asked for (the arguments and options of ``restorefw eval``).

    Attributes:
        models: run folders, checkpoints, official checkpoints or recipe files.
        sets: test sets; none: each run's or recipe's own (``[eval] sets``, else its validation set).
        out: the evaluation folder (default ``<output_root>/eval-<timestamp>``).
        overwrite: replace ``out`` if it is a restorefw folder (only then).
        labels: row names, in the order of ``models``.
        arch: the model official checkpoints are imported as.
        protocol: a named protocol; default: per set (``mzsr``, ``sr`` or ``restore``).
        overrides: ``protocol.KEY=VALUE``, ``layout.KEY=VALUE`` (layout options), ``task.KEY=VALUE``.
        task: the task that degrades sets of ground truth only; default: the models'.
        scale, layout: for every set given (default: each model's scale; detected).
        device, precision: where and how models run; default ``auto`` and fp32, or a run's own
            (``run.device``, ``run.precision``) when every set is a run's validation set.
        tile, tile_overlap: tiled inference of large images.
        save_images: write restored images and strips.
        limit: images per set.
        seed: the protocol's seed (degradations of ground-truth-only sets).
        quiet: no progress output.
        output_root: where default folders go.
        recipe: a resolved recipe to evaluate instead of ``models`` (``restorefw run`` of a recipe
            without stages), with the file it came from in ``recipe_source``.
    """

    models: tuple[str | Path, ...] = ()
    sets: tuple[SetRequest, ...] = ()
    out: Path | None = None
    overwrite: bool = False
    labels: tuple[str, ...] = ()
    arch: str | None = None
    protocol: str | None = None
    overrides: tuple[str, ...] = ()
    task: str | None = None
    scale: int | None = None
    layout: str | None = None
    device: str | None = None
    precision: str | None = None
    tile: int | None = None
    tile_overlap: int = 32
    save_images: bool = False
    limit: int | None = None
    seed: int | None = None
    quiet: bool = False
    output_root: Path = Path("runs")
    recipe: Mapping[str, Any] | None = None
    recipe_source: str = ""


@dataclass
class EvalOutcome:
    """The folder and what ``eval.json`` holds."""

    out: Path
    summary: dict[str, Any] = field(default_factory=dict)


def run_eval(request: EvalRequest, registry: Registry) -> EvalOutcome:
    """Build the models, open the sets, then score every model on every set that fits it.

    Raises:
        DataError, CheckpointError, ConfigError: bad input, before anything is written; a file
            that turns out unreadable while scoring (the folder then stays incomplete, no ``eval.json``).
        RunError: the folder cannot be used; ``RunInterrupted`` on Ctrl-C (rows so far kept).
    """
    start = time.perf_counter()
    sections = _sections(request)
    models = _models(request, registry)
    sets = _sets(request, models, registry, sections)
    device = resolve_device(request.device or _own_device(models, sets))
    precision = resolve_precision(request.precision or "fp32", device)
    for model in models:
        model.model.to(device)
    if request.seed is not None:
        torch.manual_seed(request.seed)
    scorers = [Scorer(s.protocol, s.info["scale"], s.info.get("channels", 3), registry, s.metric_specs) for s in sets]
    folder = RunFolder(request.out or request.output_root / f"eval-{time.strftime('%Y%m%d-%H%M%S')}", JSON_FILE)
    if folder.has_outputs:
        if not request.overwrite:
            raise RunError(f"evaluation folder '{folder.path}' exists and is not empty; use --overwrite or another "
                           "--out")
        folder.check_removable()
    metrics = list(dict.fromkeys(m for s in sets for m in s.protocol.metrics))
    with folder.lock():
        if folder.has_outputs:
            folder.clear()
        folder.create()
        if request.recipe is not None:
            text = dump_recipe(dict(request.recipe))
            atomic_write(folder.path / "recipe.resolved.toml", lambda tmp: Path(tmp).write_text(text, "utf-8"))
        with EvalWriter(folder.path, metrics, request.save_images) as writer:
            results = _score(request, models, sets, scorers, writer, device, precision)
            summary = {"status": "complete", "models": [m.describe() for m in models],
                       "sets": [{"key": s.key, **s.info, "models": s.models, "protocol": s.protocol.model_dump()}
                                for s in sets],
                       **results.summary(), **environment(device, precision),
                       "seed": request.seed, "tile": request.tile, "wall_time_s": time.perf_counter() - start}
            summary = writer.finish(summary)
    return EvalOutcome(folder.path, summary)


def _sections(request: EvalRequest) -> dict[str, dict[str, Any]]:
    """``--set`` overrides by section; the protocol's name and seed from their own options."""
    for item in request.overrides:
        head = item.partition("=")[0].strip().split(".")
        if len(head) < 2 or head[0] not in _SECTIONS:
            raise ConfigError(f"expected protocol.KEY=VALUE, layout.KEY=VALUE or task.KEY=VALUE, got '{item}'", "--set")
    sections: dict[str, dict[str, Any]] = apply_overrides({k: {} for k in _SECTIONS}, list(request.overrides))
    if sections["task"] and request.task is None:
        raise ConfigError("task.KEY=VALUE changes the task named by --task; give --task NAME too", "--set")
    if request.protocol is not None:
        sections["protocol"]["name"] = request.protocol
    if request.seed is not None:
        sections["protocol"]["seed"] = request.seed
    return sections


def _models(request: EvalRequest, registry: Registry) -> list[EvalModel]:
    if request.recipe is not None:
        return [recipe_model(request.recipe, registry, request.recipe_source)]
    if not request.models:
        raise ConfigError("give at least one MODEL (a run folder, a checkpoint or a recipe)", "MODEL")
    if len(request.labels) > len(request.models):
        raise ConfigError(f"{len(request.labels)} labels for {len(request.models)} models", "--label")
    labels = list(request.labels) + [None] * (len(request.models) - len(request.labels))
    models = [load_eval_model(arg, registry, arch=request.arch, label=label)
              for arg, label in zip(request.models, labels, strict=True)]
    seen: dict[str, int] = {}
    for model in models:
        seen[model.label] = seen.get(model.label, 0) + 1
        if seen[model.label] > 1:
            model.label = f"{model.label}-{seen[model.label]}"
    return models


def _sets(request: EvalRequest, models: Sequence[EvalModel], registry: Registry,
          sections: dict[str, dict[str, Any]]) -> list[EvalSet]:
    """The sets asked for; without any, each model's own: ``[eval] sets``, else its validation set."""
    common = {"layout": request.layout, "scale": request.scale, "options": sections["layout"]}
    task: Any = {"type": request.task, **sections["task"]} if request.task else None
    if request.sets:
        requests = [SetRequest(s.path, s.layout or common["layout"], s.scale or common["scale"],
                               {**s.options, **common["options"]}) for s in request.sets]
        return open_sets(requests, models, registry, protocol=sections["protocol"], task=task, limit=request.limit)
    opened, own = [], []
    for model in models:
        if model.recipe is None:
            raise ConfigError(f"model '{model.label}' ({model.source}) brings no test set of its own; name a SET",
                              "SET")
        section = model.recipe["eval"]
        limit = request.limit or section["limit"]
        if section["sets"]:
            requests = [SetRequest(s) if isinstance(s, str) else SetRequest(**s) for s in section["sets"]]
            spec = section["protocol"]
            protocol = {**({"name": spec} if isinstance(spec, str) else dict(spec or {})), **sections["protocol"]}
            opened += open_sets(requests, [model], registry, protocol=protocol, task=task, limit=limit)
        else:
            own.append(validation_set(model, registry, limit, request.seed))
    return opened + merge_validation_sets(own)


def _score(request: EvalRequest, models: Sequence[EvalModel], sets: Sequence[EvalSet], scorers: Sequence[Scorer],
           writer: EvalWriter, device: torch.device, precision: str) -> Results:
    by_label = {m.label: m for m in models}
    results, progress = Results(), Progress(quiet=request.quiet)
    for evalset, scorer in zip(sets, scorers, strict=True):
        protocol = evalset.protocol
        results.column(evalset.key, scorer.metrics, scorer.higher_is_better)
        how = _inference(request, evalset, by_label[evalset.models[0]], device, precision)
        variants = [(by_label[label], steps) for label in evalset.models
                    for steps in (protocol.adaptation_steps if by_label[label].zero_shot else ()) or (None,)]
        baseline = "bicubic" if evalset.info["scale"] > 1 else "input"
        # A run's validation is reproduced as the runner computed it; test sets get the float32 they ask for.
        full_fp32 = how.precision == "fp32" and evalset.metric_specs is None
        with progress.counting(f"eval {evalset.key}", evalset.size * len(variants), "images") as advance, \
                no_tf32(full_fp32), threads(evalset.threads):
            try:
                for item in evalset.items():
                    outputs = {baseline: item.baseline}
                    _add(results, writer, baseline, "", None, BASELINE, evalset.key, item.name,
                         scorer(item.baseline, item.target))
                    for model, steps in variants:
                        name = row_name(model.label, steps)
                        out, seconds, peak = measured(lambda: run_model(model, item, protocol, how, steps), device)
                        scores = _checked(scorer, out, item.target, model, evalset, item.name)
                        _add(results, writer, name, model.label, steps, "model", evalset.key, item.name, scores,
                             seconds, out.shape[-2] * out.shape[-1] / 1e6, peak)
                        outputs[name] = out
                        advance()
                    writer.images(evalset.key, item.name, outputs, item.target)
            except KeyboardInterrupt:
                raise RunInterrupted(f"interrupted: the {len(writer.records)} rows scored so far are kept in "
                                     f"{writer.folder / CSV_FILE}; no {JSON_FILE} was written, so the folder is "
                                     "not complete") from None
            except RestorefwError as exc:
                kind = type(exc) if isinstance(exc, (DataError, CheckpointError, RunError)) else RunError
                raise kind(f"{exc}; '{writer.folder}' is not complete (no {JSON_FILE}; the rows scored so far "
                           f"are in {CSV_FILE})") from None
    return results


def _own_device(models: Sequence[EvalModel], sets: Sequence[EvalSet]) -> str:
    """The device of the runs whose validation sets are all there is to score, as they were validated; else auto."""
    if sets and all(s.metric_specs is not None for s in sets):
        devices = {m.recipe["run"]["device"] for m in models if m.recipe is not None}
        if len(devices) == 1:
            return devices.pop()
    return "auto"


def _inference(request: EvalRequest, evalset: EvalSet, model: EvalModel, device: torch.device,
               precision: str) -> Inference:
    """How models run on a set: the command's tiling, or for a run's validation the run's own tiling and precision."""
    if evalset.tile is None:
        return Inference(device, precision, request.tile, request.tile_overlap)
    tile, overlap, mode = evalset.tile
    assert model.recipe is not None
    own = request.precision or model.recipe["run"]["precision"]
    return Inference(device, resolve_precision(own, device), tile, overlap, mode)


def _checked(scorer: Scorer, out: torch.Tensor, target: torch.Tensor, model: EvalModel, evalset: EvalSet,
             image: str) -> dict[str, float]:
    """Scores, or a one-line error naming the image when the output cannot be compared with the target."""
    if out.shape != target.shape:
        raise DataError(f"model '{model.label}' made a {tuple(out.shape[1:])} image of '{image}' in test set "
                        f"'{evalset.key}', whose target is {tuple(target.shape[1:])} (channels, height, width)")
    return scorer(out, target)


def _add(results: Results, writer: EvalWriter, name: str, model: str, steps: int | None, kind: str, set_key: str,
         image: str, scores: Mapping[str, float], seconds: float | None = None, megapixels: float | None = None,
         peak: int | None = None) -> None:
    results.add(name, model, steps, kind, set_key, scores, seconds or 0.0, megapixels or 0.0, peak)
    writer.row(name if kind == BASELINE else model, steps, set_key, image, scores, seconds, megapixels)
