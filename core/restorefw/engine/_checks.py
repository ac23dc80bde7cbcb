"""Checks that a resolved recipe can run, made before anything is written.

``restorefw validate`` runs them, and so does ``restorefw run`` before it creates the run folder:
what would otherwise fail after training (a tile size, a missing checkpoint file) fails first.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from restorefw._builder import part_checkpoints
from restorefw._errors import ConfigError, RecipeError, RestorefwError
from restorefw._recipe import as_recipe
from restorefw._registry import Registry
from restorefw.engine._probe import probe_recipe
from restorefw.models import describe

__all__ = ["check_recipe"]


def check_recipe(resolved: Mapping[str, Any], registry: Registry) -> None:
    """Build the recipe's model on the meta device and check what depends on it, then probe every
    component's contract (:func:`~restorefw.engine._probe.probe_recipe`).

    Raises:
        RecipeError: every problem found, each with its TOML path.
    """
    import torch

    plan = as_recipe(resolved)
    problems: list[tuple[str, str]] = []
    for path in part_checkpoints(plan.model):
        if not Path(path).is_file():
            problems.append(("model", f"checkpoint file '{path}' not found"))
    for i, stage in enumerate(plan.stages):
        for j, load in enumerate(stage.load):
            if not Path(load.checkpoint).is_file():
                problems.append((f"stages[{i}].load[{j}].checkpoint", f"file '{load.checkpoint}' not found"))
    try:
        with torch.device("meta"):
            model = registry.build("model", plan.model)
    except ConfigError as exc:
        raise RecipeError([*problems, (exc.path or "model", exc.message)]) from None
    except RestorefwError as exc:
        raise RecipeError([*problems, ("model", str(exc))]) from None
    info = describe(model)
    tile = plan.eval.tile
    if tile is not None and tile % info.size_multiple:
        problems.append(("eval.tile", f"must be a multiple of the model's size multiple {info.size_multiple}, "
                                      f"got {tile}"))
    if tile is not None and plan.eval.tile_mode == "exact" and not info.exact_tiling:
        problems.append(("eval.tile_mode", f"'exact' needs a model with exact tiling; "
                                           f"{plan.model['type']} has none (use 'overlap' or 'auto')"))
    exact = plan.eval.tile_mode == "exact" or (plan.eval.tile_mode == "auto" and info.exact_tiling)
    if tile is not None and not exact and not plan.eval.tile_overlap < tile:
        problems.append(("eval.tile_overlap", f"must be smaller than eval.tile ({tile}), got {plan.eval.tile_overlap}"))
    problems += probe_recipe(plan, registry)
    if problems:
        raise RecipeError(problems)
