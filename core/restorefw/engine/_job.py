"""``restorefw run`` as a job: which folder, fresh or resumed, checked, locked, then trained."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restorefw._errors import RunError
from restorefw._recipe import load_recipe, resolve_recipe
from restorefw._registry import Registry
from restorefw.engine._checks import check_recipe
from restorefw.engine._eval_job import EvalRequest, run_eval
from restorefw.engine._runfolder import RunFolder
from restorefw.engine._runner import Runner

__all__ = ["RunOutcome", "RunRequest", "run_recipe"]


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for (the options of ``restorefw run``).

    Attributes:
        recipe: the recipe file (``None`` with ``resume``: the folder's own recipe is used).
        out: the run folder (default ``<output_root>/<run.name>-<timestamp>``).
        overrides: ``dotted.key=value`` changes to the recipe.
        resume: continue this run folder.
        auto_resume: resume ``out`` if it holds an unfinished run of the same recipe, else start it.
        overwrite: replace ``out`` if it is a run folder (only then).
        device: overrides ``run.device``.
        precision: overrides ``run.precision`` (``auto``, ``fp32``, ``bf16`` or ``fp16``).
        quiet: no progress output.
        output_root: where default run folders go.
        loggers: logger names added to the recipe's ``[[loggers]]`` (``--logger``).
    """

    recipe: Path | None = None
    out: Path | None = None
    overrides: tuple[str, ...] = ()
    resume: Path | None = None
    auto_resume: bool = False
    overwrite: bool = False
    device: str | None = None
    precision: str | None = None
    quiet: bool = False
    output_root: Path = Path("runs")
    loggers: tuple[str, ...] = ()


@dataclass
class RunOutcome:
    """What the job did: the folder, and the summary unless the run was already complete.

    ``evaluated`` is true for a recipe without stages: the summary is then that of ``eval.json``.
    """

    out: Path
    summary: dict[str, Any] = field(default_factory=dict)
    already_complete: bool = False
    is_main: bool = True
    evaluated: bool = False


def _same_recipe(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal apart from ``[run]`` (name, device and threads may differ between attempts) and the loggers."""
    return {**a, "run": {}, "loggers": []} == {**b, "run": {}, "loggers": []}


def _with_loggers(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The recipe with ``--logger`` names appended to its ``[[loggers]]`` (a malformed list is left to validation)."""
    loggers = data.get("loggers", [])
    if names and isinstance(loggers, list):
        data["loggers"] = [*loggers, *({"type": name} for name in names)]
    return data


def _decide(request: RunRequest, folder: RunFolder | None, registry: Registry) -> tuple[Path | None, bool, bool]:
    """Where the recipe comes from, whether the run resumes, and whether the folder is cleared first.

    A run killed before its first checkpoint left a recognised folder with nothing to resume:
    ``--resume`` and ``--auto-resume`` start it again from its first step, which gives what a fresh
    run with the same seed gives.
    """
    if folder is None:
        return request.recipe, False, False
    if request.resume is not None:
        if not folder.recognised:
            raise RunError(f"'{folder.path}' is not a restorefw run folder (no recipe.resolved.toml)")
        if folder.complete:
            raise RunError(f"run '{folder.path}' is already complete (summary.json exists)")
        return folder.path / "recipe.resolved.toml", folder.resumable, not folder.resumable
    if request.auto_resume and folder.recognised:
        if folder.resumable:
            wanted = resolve_recipe(load_recipe(request.recipe, list(request.overrides)), registry,
                                    str(request.recipe))
            saved = resolve_recipe(load_recipe(folder.path / "recipe.resolved.toml"), registry)
            if not _same_recipe(wanted, saved):
                raise RunError(f"'{folder.path}' holds a run of a different recipe; use another --out or --overwrite")
            return folder.path / "recipe.resolved.toml", True, False
        return request.recipe, False, True
    if folder.has_outputs:
        if not request.overwrite:
            raise RunError(f"run folder '{folder.path}' exists and is not empty; use --overwrite, "
                           f"or --resume {folder.path}")
        folder.check_removable()
        return request.recipe, False, True
    return request.recipe, False, False


def run_recipe(request: RunRequest, registry: Registry) -> RunOutcome:
    """Decide the folder, check the recipe, take the folder's lock and train.

    Nothing is written before every check passed (the recipe, the folder's state, whether an
    ``--overwrite`` may delete it).

    Raises:
        RecipeError: the recipe is invalid or cannot run (checked before any output exists).
        RunError: the folder cannot be used (exists, in use, complete, not ours to overwrite).
    """
    out = request.out or request.resume
    folder = RunFolder(out) if out is not None else None
    if request.auto_resume and folder is not None and folder.complete:
        return RunOutcome(folder.path, already_complete=True)
    recipe_path, resume, clear = _decide(request, folder, registry)
    overrides = [] if request.resume is not None or resume else list(request.overrides)
    if request.device:
        overrides.append(f'run.device="{request.device}"')
    if request.precision:
        overrides.append(f'run.precision="{request.precision}"')
    assert recipe_path is not None
    resolved = resolve_recipe(_with_loggers(load_recipe(recipe_path, overrides), request.loggers), registry,
                              source=str(recipe_path))
    check_recipe(resolved, registry, this_machine=True)
    if not resolved["stages"]:
        return _evaluate_recipe(request, resolved, str(recipe_path), registry)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if folder is None:
        if world > 1:
            raise RunError("under torchrun give --out DIR: every process must write to the same folder")
        folder = RunFolder(request.output_root / f"{resolved['run']['name']}-{time.strftime('%Y%m%d-%H%M%S')}")
    if rank != 0:
        summary = Runner(resolved, registry, folder.path, quiet=True, resume=resume).run()
        return RunOutcome(folder.path, summary, is_main=False)
    with folder.lock():
        if clear:
            folder.clear()
        folder.create()
        summary = Runner(resolved, registry, folder.path, quiet=request.quiet, resume=resume).run()
    return RunOutcome(folder.path, summary)


def _evaluate_recipe(request: RunRequest, resolved: dict[str, Any], source: str, registry: Registry) -> RunOutcome:
    """A recipe without stages: score its model on its ``[eval]`` sets (or its validation set)."""
    if request.resume is not None or request.auto_resume:
        raise RunError(f"recipe '{source}' has no [[stages]]: it only evaluates, and there is nothing to resume")
    run = resolved["run"]
    out = request.out or request.output_root / f"{run['name']}-{time.strftime('%Y%m%d-%H%M%S')}"
    section = resolved["eval"]
    # Scores are full precision unless the recipe asks otherwise ("auto" picks bf16 for training on CUDA).
    outcome = run_eval(EvalRequest(recipe=resolved, recipe_source=source, out=out, overwrite=request.overwrite,
                                   device=run["device"], precision=None if run["precision"] == "auto" else
                                   run["precision"], save_images=section["save_images"], quiet=request.quiet),
                       registry)
    return RunOutcome(outcome.out, outcome.summary, evaluated=True)
