"""The models of an evaluation, from what users have on disk: run folders, checkpoints, recipes.

One argument names one model: a run folder (its ``checkpoints/last.safetensors`` and recipe), a
restorefw ``.safetensors`` (its metadata holds the model spec), an official checkpoint (anything
``restorefw convert`` reads: ``.pth``, ``.pt``, a TensorFlow 1 ``.index``, prefix or folder), or a
recipe ``.toml`` (its ``[model]``, with the ``checkpoint`` keys it names).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from restorefw._builder import build_model, import_model, load_model
from restorefw._errors import DataError, RunError
from restorefw._recipe import load_recipe, resolve_recipe
from restorefw._registry import Registry
from restorefw.engine._runfolder import RunFolder
from restorefw.models import ModelInfo, describe
from restorefw.ops import use
from restorefw.weights import is_tf1_checkpoint, read_metadata

__all__ = ["EvalModel", "is_model_argument", "load_eval_model", "recipe_model", "split_arguments"]

Source = Literal["run", "checkpoint", "official", "recipe"]
_RECIPE_FILE = "recipe.resolved.toml"
_LAST = Path("checkpoints") / "last.safetensors"


@dataclass
class EvalModel:
    """A model to score, with where it came from.

    Attributes:
        label: the row name in tables.
        source: the argument that named it.
        kind: ``run``, ``checkpoint``, ``official`` or ``recipe``.
        model: the built model with its weights, in eval mode.
        spec: its resolved model spec.
        recipe: the resolved recipe of a run folder or recipe file (its validation set, task, ``[eval]``).
        task: the task spec it was trained for, when known (checkpoint metadata or recipe).
        zero_shot: its per-image adaptation (the registry entry's ``zero_shot``), if any.
    """

    label: str
    source: str
    kind: Source
    model: nn.Module
    spec: dict[str, Any]
    recipe: dict[str, Any] | None = None
    task: dict[str, Any] | None = None
    zero_shot: Callable[..., Any] | None = field(default=None, repr=False)

    @property
    def info(self) -> ModelInfo:
        """What the model promises (scale, channels, size multiple, tiling)."""
        return describe(self.model)

    def describe(self) -> dict[str, Any]:
        """The model as ``eval.json`` records it."""
        return {"label": self.label, "source": self.source, "kind": self.kind, "model": self.spec,
                "parameters": sum(p.numel() for p in self.model.parameters()), "scale": self.info.scale,
                "zero_shot": self.zero_shot is not None}


def is_model_argument(path: Path) -> bool:
    """Whether a command-line argument names a model; test sets are folders of images.

    Files are models (checkpoints, recipes); folders are models when they are run folders or
    TensorFlow 1 checkpoint folders; a path that does not exist is a model only as the prefix of
    a TensorFlow 1 checkpoint.
    """
    if path.is_file():
        return True
    if path.is_dir():
        return RunFolder(path).recognised or (path / _RECIPE_FILE).is_file() or is_tf1_checkpoint(path)
    return is_tf1_checkpoint(path)


def split_arguments(arguments: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """``restorefw eval``'s arguments as ``(models, test sets)``, in their order (see :func:`is_model_argument`).

    Raises:
        DataError: an argument that names nothing on disk.
    """
    models, sets = [], []
    for argument in map(Path, arguments):
        if not argument.exists() and not is_tf1_checkpoint(argument):
            raise DataError(f"'{argument}' does not exist; expected a model (run folder, checkpoint, recipe .toml) "
                            "or a test-set folder")
        (models if is_model_argument(argument) else sets).append(argument)
    return models, sets


def load_eval_model(argument: str | Path, registry: Registry, *, arch: str | None = None,
                    label: str | None = None) -> EvalModel:
    """The model an argument names, built with its weights.

    Args:
        argument: a run folder, a restorefw ``.safetensors``, an official checkpoint or a recipe ``.toml``.
        registry: the registry to build from.
        arch: the model an official checkpoint is imported as (``restorefw convert --arch``).
        label: the row name; default: the folder's or the file's name.

    Raises:
        DataError: the argument does not exist.
        RunError: a run folder without saved weights.
        CheckpointError, RecipeError: a file that cannot be read or built; the message names it.
    """
    path = Path(argument)
    if not path.exists() and not is_tf1_checkpoint(path):
        raise DataError(f"model '{path}' does not exist; expected a run folder, a checkpoint or a recipe .toml")
    if path.is_dir() and (path / _RECIPE_FILE).is_file():
        return _run_model(path, registry, label)
    if path.suffix == ".toml":
        resolved = resolve_recipe(load_recipe(path), registry, source=str(path))
        return recipe_model(resolved, registry, str(path), label)
    if path.suffix == ".safetensors" and "model" in read_metadata(path):
        model, meta = load_model(path, registry)
        return _finish(label or _file_label(path), str(path), "checkpoint", model, meta["model"], registry,
                       task=meta.get("task"))
    model, spec = import_model(path, registry, arch)
    return _finish(label or _file_label(path), str(path), "official", model, spec, registry)


def recipe_model(resolved: Mapping[str, Any], registry: Registry, source: str, label: str | None = None) -> EvalModel:
    """The model of a resolved recipe, with the ``checkpoint`` files its spec names."""
    with _ops(resolved):
        model = build_model(registry, resolved["model"])
    return _finish(label or resolved["run"]["name"], source, "recipe", model, resolved["model"], registry,
                   recipe=dict(resolved), task=resolved["task"])


def _run_model(folder: Path, registry: Registry, label: str | None) -> EvalModel:
    weights = folder / _LAST
    if not weights.is_file():
        raise RunError(f"run folder '{folder}' has no {_LAST} (the run saved no weights yet)")
    resolved = resolve_recipe(load_recipe(folder / _RECIPE_FILE), registry, source=str(folder / _RECIPE_FILE))
    with _ops(resolved):
        model, meta = load_model(weights, registry)
    if resolved["run"]["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    return _finish(label or folder.resolve().name, str(folder), "run", model, meta["model"], registry,
                   recipe=resolved, task=meta.get("task", resolved["task"]))


def _ops(resolved: Mapping[str, Any]) -> Any:
    """The compute-kernel choice the recipe's model was built with (``run.ops``)."""
    ops = resolved["run"]["ops"]
    return use(ops) if ops else nullcontext()


def _file_label(path: Path) -> str:
    """A checkpoint's name; ``runs/x/checkpoints/last.safetensors`` is ``x``."""
    if path.parent.name == "checkpoints" and path.parent.parent.name:
        return path.parent.parent.resolve().name
    return path.name if path.is_dir() else path.stem


def _finish(label: str, source: str, kind: Source, model: nn.Module, spec: dict[str, Any], registry: Registry,
            *, recipe: dict[str, Any] | None = None, task: dict[str, Any] | None = None) -> EvalModel:
    entry = registry.get("model", spec["type"])
    return EvalModel(label, source, kind, model.eval(), spec, recipe, task, entry.zero_shot)
