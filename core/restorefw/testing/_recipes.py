"""A small recipe for tests: runs in seconds on the CPU with the basic plugin."""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["tiny_recipe"]

_TINY: dict[str, Any] = {
    "run": {"device": "cpu"},
    "data": {"train": {"type": "skimage_samples", "images": ["camera"]}, "patch_size": 24, "batch_size": 2},
    "task": {"type": "denoise"},
    "model": {"type": "rescnn", "channels": 8, "blocks": 1},
}


def tiny_recipe(name: str = "tiny", *, stages: list[dict[str, Any]] | None = None, **sections: Any) -> dict[str, Any]:
    """A recipe (as parsed TOML) training an 8-channel ``rescnn`` to denoise 24-px patches of ``camera``.

    Needs the basic plugin. Give a plugin's own component in its section to smoke-test it in a
    real run, e.g. ``tiny_recipe(model={"type": "my_model", "channels": None, "blocks": None})``.

    Args:
        name: ``run.name``.
        stages: the stage list; default one stage ``"s"`` of 2 steps.
        **sections: merged into the section of that name (``run``, ``data``, ``task``, ``model``,
            ``eval``; a value of ``None`` removes the key), or set as given when a list (``loggers``).

    Returns:
        A new dict, for ``restorefw.resolve_recipe`` or ``tomli_w.dumps``.
    """
    recipe = copy.deepcopy(_TINY)
    recipe["run"]["name"] = name
    recipe["stages"] = copy.deepcopy(stages) if stages is not None else [{"name": "s", "steps": 2}]
    for section, values in sections.items():
        if isinstance(values, list):
            recipe[section] = copy.deepcopy(values)
            continue
        merged = {**recipe.get(section, {}), **values}
        recipe[section] = {key: value for key, value in merged.items() if value is not None}
    return recipe
