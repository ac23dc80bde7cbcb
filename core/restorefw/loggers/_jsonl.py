"""The built-in ``jsonl`` logger: ``metrics.jsonl`` and ``logs/events.jsonl`` in the run folder."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from restorefw._errors import RunError
from restorefw.loggers._base import Logger, RunInfo, Step

__all__ = ["EVENTS_FILE", "JsonlLogger", "MetricsLog"]

EVENTS_FILE = "logs/events.jsonl"
"""Run events, relative to the run folder: one JSON object per event (``event``, ``time``, position, details)."""


class MetricsLog:
    """Append-only JSON-lines log; each record is flushed and fsynced."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (``stage``, ``step`` and values).

        Raises:
            RunError: the file cannot be written (disk full, permissions); names the file.
        """
        line = json.dumps(record, allow_nan=True) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise RunError(f"cannot write '{self.path}': {exc.strerror or exc}") from exc

    def read(self) -> list[dict[str, Any]]:
        """All complete records (a torn last line from a crash is ignored)."""
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records

    def truncate_after(self, stage: str, step: int, stage_order: list[str]) -> None:
        """Drop records logged after ``(stage, step)``: a resumed run re-logs them."""
        # Weights IO loads torch: a resumed run pays for it, a reader of logs does not.
        from restorefw.weights import atomic_write

        rank = {name: i for i, name in enumerate(stage_order)}
        limit = (rank.get(stage, -1), step)
        kept = [r for r in self.read() if (rank.get(r.get("stage"), -1), r.get("step", 0)) <= limit]
        text = "".join(json.dumps(r) + "\n" for r in kept)
        atomic_write(self.path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


class JsonlLogger(Logger):
    """``metrics.jsonl`` and ``logs/events.jsonl``; always on.

    ``metrics.jsonl`` holds one JSON object per training log and per evaluation: ``stage``,
    ``step``, ``global_step``, then ``loss``, ``lr`` and the strategy's values, or ``val_<metric>``.
    Wall-clock rates (the ``speed`` group) are left out, so that two runs of the same recipe write
    the same file. ``logs/events.jsonl`` holds the run events with their wall-clock time.
    """

    def __init__(self) -> None:
        self.metrics: MetricsLog | None = None
        self.events: MetricsLog | None = None

    def start(self, run: RunInfo) -> None:
        """Open both logs; on resume drop the metrics logged after the checkpoint (the run logs them again)."""
        self.metrics = MetricsLog(run.folder / "metrics.jsonl")
        self.events = MetricsLog(run.folder / EVENTS_FILE)
        at = run.resumed_from
        if at is not None:
            self.metrics.truncate_after(at.stage, at.step, [s["name"] for s in run.recipe.get("stages", [])])

    def scalars(self, at: Step, values: Mapping[str, float], group: str) -> None:
        """Append a ``train`` or ``val`` record (val metrics as ``val_<name>``)."""
        if self.metrics is None or group == "speed":
            return
        prefix = "val_" if group == "val" else ""
        self.metrics.write({"stage": at.stage, "step": at.step, "global_step": at.global_step,
                            **{prefix + k: v for k, v in values.items()}})

    def event(self, at: Step, name: str, detail: Mapping[str, Any]) -> None:
        """Append an event with its wall-clock time."""
        if self.events is not None:
            self.events.write({"event": name, "time": time.time(), "stage": at.stage, "step": at.step,
                               "global_step": at.global_step, **detail})
