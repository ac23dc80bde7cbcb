"""What a logger is told: the run it logs, where each record belongs, and the methods it may implement."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["EVENTS", "GROUPS", "Logger", "RunInfo", "Step", "flatten"]

GROUPS: tuple[str, ...] = ("train", "val", "speed")
"""Scalar groups: ``train`` (loss, lr and what the strategy logs), ``val`` (the metrics of an
evaluation), ``speed`` (``steps_per_s``, ``images_per_s``: wall-clock rates, which differ between
two runs of the same recipe)."""

EVENTS: tuple[str, ...] = ("start", "resume", "stage_start", "stage_end", "checkpoint", "interrupt", "error", "end")
"""Run events, in the order a run may send them: ``start`` or ``resume`` opens every session,
``interrupt`` (Ctrl-C, SIGTERM), ``error`` or ``end`` (all stages trained) closes it."""


@dataclass(frozen=True)
class Step:
    """Where in the run a record belongs.

    Attributes:
        stage: the stage's name.
        step: optimizer steps done in the stage.
        global_step: optimizer steps done in the whole run, continuous across stages and resumes:
            the x axis every logger should use.
    """

    stage: str
    step: int
    global_step: int


@dataclass(frozen=True)
class RunInfo:
    """What a logger learns when a run (or a resumed session of it) starts.

    Attributes:
        folder: the run folder. A logger writes under :attr:`logs` (``metrics.jsonl`` is the
            built-in ``jsonl`` logger's own): ``--overwrite`` deletes only what a run writes.
        name: ``run.name`` of the recipe.
        recipe: the resolved recipe (every default filled in).
        recipe_text: the same as TOML, as ``recipe.resolved.toml`` holds it.
        resumed_from: set when the run continues from a checkpoint: what was logged after this
            point is logged again, so a logger drops or hides its records beyond it.
    """

    folder: Path
    name: str
    recipe: Mapping[str, Any]
    recipe_text: str
    resumed_from: Step | None = None

    @property
    def logs(self) -> Path:
        """``<run folder>/logs``: the place for a logger's files (one sub-folder per logger)."""
        return self.folder / "logs"

    @property
    def hparams(self) -> dict[str, bool | int | float | str]:
        """The recipe as flat hyper-parameters (``stages[0].optimizer.lr``); lists as text, unset keys left out."""
        return {key: value if isinstance(value, (bool, int, float, str)) else str(value)
                for key, value in flatten(self.recipe).items() if value is not None}


class Logger:
    """Base class of loggers: sinks for a run's scalars, sample pictures and events.

    Every method is optional (the base does nothing). The engine calls them from one background
    thread per logger, in the order the run produced the records, never from the training step
    itself. A method that raises disables its logger: the failure is reported once, on stderr,
    and the run goes on. Only the main process of a distributed run logs.
    """

    def start(self, run: RunInfo) -> None:
        """The run starts, or resumes (``run.resumed_from``); open files and write the recipe."""

    def scalars(self, at: Step, values: Mapping[str, float], group: str) -> None:
        """Numbers logged at ``at``; ``group`` is one of :data:`GROUPS`, ``values`` maps names to floats."""

    def image(self, at: Step, tag: str, image: np.ndarray) -> None:
        """A picture, ``uint8`` ``(H, W, C)`` with ``C`` 1, 3 or 4.

        The run sends ``samples/<image>``: degraded | restored | target, at the end of each stage.
        """

    def event(self, at: Step, name: str, detail: Mapping[str, Any]) -> None:
        """A run event (one of :data:`EVENTS`) with JSON-compatible details."""

    def flush(self) -> None:
        """Make everything received so far durable (called at checkpoints, stage ends and interrupts)."""

    def close(self) -> None:
        """The session ends (after ``end``, ``interrupt`` or ``error``); release files and connections."""


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Leaves of a nested recipe under dotted paths: ``{"stages[0].optimizer.lr": 0.001, ...}``.

    Lists of tables (stages, metrics, loggers) are indexed; lists of plain values are leaves.
    """
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten(value, path) if value else {path: {}})
        elif isinstance(value, (list, tuple)) and any(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                flat.update(flatten(item, f"{path}[{i}]") if isinstance(item, Mapping) else {f"{path}[{i}]": item})
        else:
            flat[path] = value
    return flat
