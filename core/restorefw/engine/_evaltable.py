"""The scores of an evaluation as they come in, their means, and the one table it prints.

Rows are models (one per adaptation step count for models that adapt) and the baseline;
columns are test set × metric, then speed (ms per output megapixel) and peak memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BASELINE", "LEGEND", "Results", "render_table", "row_name"]

BASELINE = "baseline"
"""The kind of the row that scores the degraded input (bicubic up-sampling for SR)."""


LEGEND = ("* best model per column (the baseline row aside); ms/MP: milliseconds per output megapixel "
          "(each row's first image aside)")
"""What the marks and units of :func:`render_table` mean, printed under it."""


def row_name(label: str, steps: int | None) -> str:
    """A row's name: the model's label, with its adaptation steps when it adapts (``mzsr (10 steps)``)."""
    return label if steps is None else f"{label} ({steps} step{'' if steps == 1 else 's'})"


@dataclass
class _Row:
    name: str
    model: str
    steps: int | None
    kind: str
    scores: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    times: list[tuple[float, float]] = field(default_factory=list)
    peak: int | None = None

    @property
    def ms_per_megapixel(self) -> float | None:
        """Milliseconds per output megapixel; the first image pays start-up costs, so it counts only alone."""
        times = self.times[1:] or self.times
        megapixels = sum(m for _, m in times)
        return 1000 * sum(s for s, _ in times) / megapixels if megapixels else None


class Results:
    """Per-image scores, gathered per row and test set."""

    def __init__(self) -> None:
        self.rows: dict[str, _Row] = {}
        self.columns: dict[str, tuple[list[str], dict[str, bool]]] = {}

    def column(self, key: str, metrics: Iterable[str], higher_is_better: Mapping[str, bool]) -> None:
        """Declares a test set's column group and its metrics."""
        self.columns[key] = (list(metrics), dict(higher_is_better))

    def add(self, name: str, model: str, steps: int | None, kind: str, set_key: str, scores: Mapping[str, float],
            seconds: float = 0.0, megapixels: float = 0.0, peak: int | None = None) -> None:
        """Adds one image's scores (and, for models, its time, output size and peak memory)."""
        row = self.rows.setdefault(name, _Row(name, model, steps, kind))
        per_set = row.scores.setdefault(set_key, {})
        for metric, value in scores.items():
            per_set.setdefault(metric, []).append(value)
        if megapixels:
            row.times.append((seconds, megapixels))
        if peak is not None:
            row.peak = max(row.peak or 0, peak)

    def summary(self) -> dict[str, Any]:
        """Means per row, test set and metric, with each row's speed and memory, as ``eval.json`` holds them."""
        rows = sorted(self.rows.values(), key=lambda r: r.kind != BASELINE)
        return {
            "columns": [{"set": key, "metrics": metrics, "higher_is_better": higher}
                        for key, (metrics, higher) in self.columns.items()],
            "rows": [{"name": r.name, "model": r.model, "steps": r.steps, "kind": r.kind,
                      "ms_per_megapixel": r.ms_per_megapixel,
                      "peak_mib": r.peak / 2**20 if r.peak is not None else None,
                      "images": {k: len(next(iter(v.values()), [])) for k, v in r.scores.items()},
                      "scores": {k: {m: sum(vs) / len(vs) for m, vs in v.items()} for k, v in r.scores.items()}}
                     for r in rows],
        }


def _format(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def render_table(summary: Mapping[str, Any], title: str | None = None) -> Any:
    """The rich table of an evaluation summary (:meth:`Results.summary`); best model per column in bold with ``*``.

    :data:`LEGEND` says what the marks and units mean.
    """
    from rich.table import Table

    table = Table(title=title)
    table.add_column("model")
    columns = [(c["set"], m, c["higher_is_better"].get(m, True)) for c in summary["columns"] for m in c["metrics"]]
    best: dict[tuple[str, str], float] = {}
    for index, (key, metric, higher) in enumerate(columns):
        # The set's name heads its first metric column only, so each set reads as one group.
        first = index == 0 or columns[index - 1][0] != key
        table.add_column(f"{key if first else ''}\n{metric}", justify="right")
        values = [r["scores"].get(key, {}).get(metric) for r in summary["rows"] if r["kind"] != BASELINE]
        found = [v for v in values if v is not None and not math.isnan(v)]
        if found:
            best[(key, metric)] = max(found) if higher else min(found)
    table.add_column("ms/MP", justify="right")
    table.add_column("peak MiB", justify="right")
    for row in summary["rows"]:
        cells = [row["name"]]
        for key, metric, _ in columns:
            value = row["scores"].get(key, {}).get(metric)
            text = _format(value, 4)  # BasicSR's log format; eval.json and eval.csv hold every digit
            if row["kind"] != BASELINE and value is not None and best.get((key, metric)) == value:
                text = f"[bold]{text}*[/bold]"
            cells.append(text)
        cells += [_format(row["ms_per_megapixel"], 1), _format(row["peak_mib"], 0)]
        table.add_row(*cells, style="dim" if row["kind"] == BASELINE else None)
    return table
