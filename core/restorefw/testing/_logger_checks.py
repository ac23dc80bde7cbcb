"""Contract check of loggers: a run and its resumed session played to the logger, files checked."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from restorefw._recipe import dump_recipe
from restorefw.engine import RUN_ENTRIES, RunFolder
from restorefw.loggers import RunInfo, Step
from restorefw.testing._build import Source, build_component, fail, require

__all__ = ["check_logger"]

ReadScalars = Callable[[Path], Mapping[str, Sequence[int]]]
"""Reads a logger's output back from a run folder: ``{tag: [step of each value written, in file order]}``."""

_RECIPE: dict[str, Any] = {
    "run": {"name": "check"},
    "stages": [{"name": "a", "steps": 4}, {"name": "b", "steps": 2}],
    "eval": {"metrics": [{"type": "psnr"}]},
}
_METHODS = ("start", "scalars", "image", "event", "flush", "close")


def _call(logger: Any, label: str, method: str, *args: Any) -> None:
    try:
        getattr(logger, method)(*args)
    except Exception as exc:
        fail(label, f"{method}() raised {type(exc).__name__}: {exc}")


def _session(logger: Any, label: str, info: RunInfo, steps: range, stop: str) -> None:
    """Play steps ``steps`` (global) of a 4 + 2 step run: train values each step, val every 2, a picture at 4."""
    _call(logger, label, "start", info)
    at = info.resumed_from or Step("a", 0, 0)
    _call(logger, label, "event", at, "resume" if info.resumed_from else "start", {})
    picture = np.linspace(0, 255, 8 * 20 * 3).astype(np.uint8).reshape(8, 20, 3)
    for global_step in steps:
        stage, step, length = ("a", global_step, 4) if global_step <= 4 else ("b", global_step - 4, 2)
        at = Step(stage, step, global_step)
        if step == 1:
            _call(logger, label, "event", Step(stage, 0, global_step - 1), "stage_start", {"steps": length})
        _call(logger, label, "scalars", at, {"loss": 1.0 / global_step, "lr": 1e-3}, "train")
        _call(logger, label, "scalars", at, {"steps_per_s": 10.0, "images_per_s": 20.0}, "speed")
        if global_step % 2 == 0:
            _call(logger, label, "scalars", at, {"psnr": 20.0 + global_step}, "val")
            _call(logger, label, "event", at, "checkpoint", {"stage_complete": False})
            _call(logger, label, "flush")
        if global_step == 4:
            _call(logger, label, "image", at, "samples/picture", picture)
            _call(logger, label, "image", at, "samples/grey", picture[..., :1].copy())
    _call(logger, label, "event", at, stop, {"message": "stopped"} if stop == "interrupt" else {})
    _call(logger, label, "close")


def check_logger(
    source: Source,
    spec: str | dict[str, Any] | None = None,
    /,
    *,
    read_scalars: ReadScalars | None = None,
    folder: str | Path | None = None,
    **params: Any,
) -> Any:
    """Assert the logger contract and return the built logger.

    Plays a run to the logger: a session that logs global steps 1 to 4 with a checkpoint at 2 and is
    interrupted, then a resumed session (from step 2) that logs steps 3 to 6 again and ends. Checks:
    the logger has the :class:`restorefw.loggers.Logger` methods and none raises; every file it
    writes lies under ``logs/`` of the run folder (or another name a run writes); and, with
    ``read_scalars``, that each scalar tag holds every step once, in order, after the resume.

    Args:
        source: a registry (give the logger's name) or its entry.
        spec: the logger's name, or a spec table.
        read_scalars: reads the logger's output back from the run folder:
            ``{tag: [step of each value, in the order the files hold them]}``.
        folder: the run folder to use (default: a temporary one, removed afterwards).
        **params: the logger's parameters.
    """
    built = build_component(source, "logger", spec, params)
    logger, label = built.component, built.label
    for method in _METHODS:
        require(callable(getattr(logger, method, None)), label,
                f"has no {method}() method (subclass restorefw.loggers.Logger)")
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(folder) if folder is not None else Path(tmp) / "run"
        RunFolder(run).create()
        info = RunInfo(run, "check", _RECIPE, dump_recipe(_RECIPE))
        _session(logger, label, info, range(1, 5), "interrupt")
        resumed = built.rebuild()
        _session(resumed, label, RunInfo(run, "check", _RECIPE, info.recipe_text, Step("a", 2, 2)), range(3, 7), "end")
        foreign = sorted(p.name for p in run.iterdir() if p.name not in RUN_ENTRIES)
        require(not foreign, label, f"wrote {', '.join(foreign)} in the run folder; write under logs/ "
                f"(RunInfo.logs), the only place besides the run's own files ({', '.join(sorted(RUN_ENTRIES))})")
        if read_scalars is not None:
            _check_steps(read_scalars(run), label)
    return logger


def _check_steps(tags: Mapping[str, Sequence[int]], label: str) -> None:
    """The loss (logged at steps 1 to 6) and PSNR (at 2, 4, 6) under whatever tags the logger gives them."""
    for suffix, steps in (("loss", [1, 2, 3, 4, 5, 6]), ("psnr", [2, 4, 6])):
        found = [(tag, list(v)) for tag, v in tags.items() if tag.endswith(suffix)]
        require(found, label, f"read_scalars gave no tag ending in '{suffix}' among {sorted(tags)}")
        for tag, got in found:
            require(got == steps, label, f"'{tag}' holds steps {got} after an interrupted run resumed from step 2; "
                    f"expected each step once, in order: {steps} (drop or purge what was logged after "
                    "RunInfo.resumed_from)")
