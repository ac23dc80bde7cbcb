"""``restorefw runs compare``: how the recipes differ, one table of final metrics, a plot per metric."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restorefw._errors import RunError
from restorefw.engine._runlog import Curves, curves, draw_curves
from restorefw.engine._runs import RunRecord, read_run
from restorefw.loggers import flatten

__all__ = ["Comparison", "compare_runs", "recipe_differences"]

_ABSENT = object()


@dataclass
class Comparison:
    """Several runs side by side.

    Attributes:
        runs: the runs, in the order given.
        labels: their names in the table and the plots' legends (folder names; paths when two are alike).
        differences: each recipe key whose value differs, as a dotted path, with every run's value
            (``None`` where a run's recipe does not have it).
        metrics: the metric table's columns: every final metric of any run.
        plots: the PNG files written, one per metric, one line per run against the global step.
    """

    runs: list[RunRecord]
    labels: list[str]
    differences: dict[str, list[Any]]
    metrics: list[str]
    plots: list[Path]

    def as_json(self) -> dict[str, Any]:
        """The comparison for ``--json``."""
        return {"runs": [dict(r.as_json(), label=label) for r, label in zip(self.runs, self.labels, strict=True)],
                "differences": self.differences, "metrics": self.metrics, "plots": [str(p) for p in self.plots]}


def recipe_differences(recipes: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Dotted keys (``stages[1].strategy.type``) whose values differ between the recipes, in recipe order.

    A table or list item that some recipes lack entirely (a stage more) is one row, with the whole
    item as the value of the others.

    Returns:
        ``{key: [value in each recipe, None where it has no such key]}``.
    """
    flats = [flatten(recipe) for recipe in recipes]
    rows: dict[str, list[Any]] = {}
    for key in dict.fromkeys(key for flat in flats for key in flat):
        values = [_lookup(recipe, key) for recipe in recipes]
        if all(_same(value, values[0]) for value in values[1:]) or any(_is_tree(value) for value in values):
            continue  # equal, or a leaf in one recipe and a table in another: the table's own keys differ
        row = next((prefix for prefix in _prefixes(key) if any(_lookup(r, prefix) is _ABSENT for r in recipes)), key)
        rows.setdefault(row, [None if (value := _lookup(r, row)) is _ABSENT else value for r in recipes])
    return rows


def _tokens(key: str) -> list[str | int]:
    return [int(index) if index else name for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", key)]


def _prefixes(key: str) -> list[str]:
    """``a``, ``a[1]``, ``a[1].b`` for ``a[1].b``: the key's ancestors, shortest first, and itself."""
    prefixes, path = [], ""
    for token in _tokens(key):
        path += f"[{token}]" if isinstance(token, int) else f".{token}" if path else token
        prefixes.append(path)
    return prefixes


def _lookup(tree: Any, key: str) -> Any:
    for token in _tokens(key):
        if isinstance(token, int) and isinstance(tree, list) and token < len(tree):
            tree = tree[token]
        elif isinstance(token, str) and isinstance(tree, Mapping) and token in tree:
            tree = tree[token]
        else:
            return _ABSENT
    return tree


def _is_tree(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) or isinstance(value, list) and \
        any(isinstance(item, Mapping) for item in value)


def _same(a: Any, b: Any) -> bool:
    return a is b if _ABSENT in (a, b) else a == b


def compare_runs(paths: Sequence[str | Path], out: str | Path, overwrite: bool = False) -> Comparison:
    """Read the runs, compare their recipes and final metrics, and plot every metric of all of them into ``out``.

    Raises:
        RunError: fewer than two runs, a path that is not a run folder, or a plot that exists in
            ``out`` (unless ``overwrite``) or cannot be written.
    """
    if len(paths) < 2:
        raise RunError("compare needs at least two run folders")
    runs = [read_run(path) for path in paths]
    names = [run.name for run in runs]
    labels = [run.name if names.count(run.name) == 1 else str(run.path) for run in runs]
    series: Curves = {}
    for label, run in zip(labels, runs, strict=True):
        for key, per_stage in curves(run.records).items():
            series.setdefault(key, {})[label] = sorted(point for points in per_stage.values() for point in points)
    return Comparison(runs=runs, labels=labels, differences=recipe_differences([run.recipe for run in runs]),
                      metrics=list(dict.fromkeys(key for run in runs for key in run.metrics)),
                      plots=draw_curves(series, out, overwrite=overwrite))
