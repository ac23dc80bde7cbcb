"""Run folders read back for ``restorefw runs``: status, progress, final metrics, wall time, recipe hash."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restorefw._errors import RunError
from restorefw.engine._runfolder import MARKER, RunFolder, saved_steps
from restorefw.loggers import EVENTS_FILE, MetricsLog

__all__ = ["STATUSES", "RunRecord", "list_runs", "read_run", "recipe_hash"]

STATUSES: dict[str, str] = {
    "complete": "every stage trained and evaluated (summary.json written)",
    "running": "a live process holds the folder's lock",
    "interrupted": "stopped by Ctrl-C or SIGTERM after saving; restorefw run --resume continues it",
    "resumable": "killed without a word (kill -9, out of memory, power cut); --resume continues from the last save",
    "failed": "ended by an error, stopped before its first checkpoint, or an evaluation stopped before eval.json",
    "empty": "nothing trained yet",
}
"""What each status of a run folder means."""


@dataclass
class RunRecord:
    """One run folder as ``restorefw runs`` shows it.

    Attributes:
        path: the folder.
        name: the folder's name.
        status: one of :data:`STATUSES`.
        stages: the recipe's stage names, in order.
        stages_done: stages trained to their end.
        steps: global steps done: all when complete, the last logged one while running, otherwise the
            last checkpoint's (where ``--resume`` continues).
        total_steps: the steps of all stages.
        metrics: the last evaluation's metrics, then the last logged loss.
        wall_time_s: training time of all sessions together (``None``: unknown).
        recipe_hash: see :func:`recipe_hash` (``None``: no readable recipe).
        message: what the last error or interrupt said.
        recipe: the resolved recipe.
        records: the ``metrics.jsonl`` records.
    """

    path: Path
    name: str
    status: str
    stages: list[str]
    stages_done: int
    steps: int
    total_steps: int
    metrics: dict[str, float]
    wall_time_s: float | None
    recipe_hash: str | None
    message: str = ""
    recipe: dict[str, Any] = field(default_factory=dict, repr=False)
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def samples(self) -> list[Path]:
        """The sample pictures (degraded | restored | target), in name order."""
        return sorted((self.path / "samples").glob("*.png"))

    def as_json(self) -> dict[str, Any]:
        """The record for ``--json`` (without the recipe and the metric records)."""
        return {"path": str(self.path), "name": self.name, "status": self.status, "stages": self.stages,
                "stages_done": self.stages_done, "steps": self.steps, "total_steps": self.total_steps,
                "metrics": self.metrics, "wall_time_s": self.wall_time_s, "recipe_hash": self.recipe_hash,
                "message": self.message, "samples": [str(p) for p in self.samples]}


def recipe_hash(recipe: Mapping[str, Any]) -> str:
    """SHA-256 of a resolved recipe (as parsed: comments and key order do not count).

    Its ``[[loggers]]`` are left out: where the numbers go does not change them.
    """
    canonical = json.dumps({k: v for k, v in recipe.items() if k != "loggers"}, sort_keys=True,
                           separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def list_runs(root: str | Path = "runs") -> list[RunRecord]:
    """The run folders directly in ``root`` (or ``root`` itself when it is one), in name order.

    Raises:
        RunError: ``root`` is not a folder.
    """
    root = Path(root)
    if RunFolder(root).recognised:
        return [read_run(root)]
    if not root.is_dir():
        raise RunError(f"'{root}' is not a folder")
    return [read_run(p) for p in sorted(root.iterdir()) if p.is_dir() and RunFolder(p).recognised]


def read_run(path: str | Path) -> RunRecord:
    """Read a run folder: its recipe, checkpoints, logs and summary (no weights are loaded).

    Raises:
        RunError: ``path`` is not a run folder.
    """
    # An evaluation folder (restorefw eval) is complete once its eval.json, written last, is there.
    evaluation = (Path(path) / "eval.csv").is_file()
    folder = RunFolder(path, "eval.json" if evaluation else "summary.json")
    if not folder.recognised:
        raise RunError(f"'{folder.path}' is not a restorefw run folder (no {MARKER} or recipe.resolved.toml)")
    recipe = _read_recipe(folder.path / "recipe.resolved.toml")
    stages = [(s["name"], s["steps"]) for s in recipe.get("stages", []) if isinstance(s, dict) and
              isinstance(s.get("name"), str) and isinstance(s.get("steps"), int)]
    events = MetricsLog(folder.path / EVENTS_FILE).read()
    records = MetricsLog(folder.path / "metrics.jsonl").read()
    summary = _read_json(folder.path / "summary.json")
    last = events[-1] if events else {}
    done, steps = _checkpoint_position(folder.path, stages)
    total = sum(n for _, n in stages)
    if folder.complete:
        status, done, steps = "complete", len(stages), total
    elif folder.in_use:
        status = "running"
        steps = max([r["global_step"] for r in records if isinstance(r.get("global_step"), int)], default=steps)
    elif last.get("event") == "error" or evaluation:  # an evaluation is not resumed: it is run again
        status = "failed"
    elif folder.resumable:
        status = "interrupted" if last.get("event") == "interrupt" else "resumable"
    else:
        status = "failed" if records or (folder.path / "checkpoints").is_dir() else "empty"
    message = str(last.get("message", "")) if last.get("event") in ("error", "interrupt") else ""
    if evaluation and status == "failed" and not message:
        message = "the evaluation stopped before writing eval.json; run restorefw eval again"
    return RunRecord(path=folder.path, name=folder.path.resolve().name, status=status, stages=[n for n, _ in stages],
                     stages_done=done, steps=steps, total_steps=total, metrics=_final_metrics(records, summary),
                     wall_time_s=_wall_time(events, summary), recipe_hash=recipe_hash(recipe) if recipe else None,
                     message=message, recipe=recipe, records=records)


def _read_recipe(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _checkpoint_position(folder: Path, stages: list[tuple[str, int]]) -> tuple[int, int]:
    """Stages done and global step of the newest checkpoint, from the file names.

    Stage-final checkpoints are never pruned, so every finished stage still has its own.
    """
    done, global_step = 0, 0
    for name, steps in stages:
        saved = saved_steps(folder, name)
        if steps not in saved:
            return done, global_step + max(saved, default=0)
        done, global_step = done + 1, global_step + steps
    return done, global_step


def _final_metrics(records: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, float]:
    """The last evaluation's metrics (from ``metrics.jsonl``, else ``summary.json``) and the last loss."""
    metrics: dict[str, float] = {}
    for record in reversed(records):
        scores = {k.removeprefix("val_"): v for k, v in record.items() if k.startswith("val_")}
        if scores:
            metrics = scores
            break
    if not metrics:
        stages = [s for s in summary.get("stages", {}).values() if isinstance(s, dict) and s.get("val")]
        metrics = dict(stages[-1]["val"]) if stages else {}
    loss = next((r["loss"] for r in reversed(records) if isinstance(r.get("loss"), (int, float))), None)
    return metrics if loss is None else {**metrics, "loss": loss}


def _wall_time(events: list[dict[str, Any]], summary: dict[str, Any]) -> float | None:
    """Seconds of all sessions together: from each ``start`` or ``resume`` event to the session's last event."""
    total, first, last = 0.0, None, None
    for event in events:
        when = event.get("time")
        if not isinstance(when, (int, float)):
            continue
        if event.get("event") in ("start", "resume"):
            if first is not None and last is not None:
                total += last - first
            first = when
        last = when
    if first is None or last is None:
        wall = summary.get("wall_time_s")
        return float(wall) if isinstance(wall, (int, float)) else None
    return total + last - first
