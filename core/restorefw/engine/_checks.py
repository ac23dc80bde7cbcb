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
from restorefw._recipe import Recipe, as_recipe
from restorefw._registry import Registry
from restorefw.engine._device import resolve_device, resolve_precision
from restorefw.engine._probe import probe_recipe
from restorefw.models import describe

__all__ = ["available_memory", "check_recipe", "memory_problems"]


def check_recipe(resolved: Mapping[str, Any], registry: Registry, this_machine: bool = False) -> None:
    """Build the recipe's model on the meta device and check what depends on it, then probe every
    component's contract (:func:`~restorefw.engine._probe.probe_recipe`).

    Args:
        resolved: the resolved recipe.
        registry: the components it names.
        this_machine: also check that ``run.device`` exists here and runs ``run.precision``
            (``restorefw run`` does; ``validate`` checks a recipe that may be meant for another machine).

    Raises:
        RecipeError: every problem found, each with its TOML path.
    """
    import torch

    plan = as_recipe(resolved)
    problems: list[tuple[str, str]] = []
    if this_machine:
        try:  # fp16, for one, needs native fp16 arithmetic on a CPU
            resolve_precision(plan.run.precision, resolve_device(plan.run.device))
        except ConfigError as exc:
            problems.append((exc.path or "run", exc.message))
    for path in part_checkpoints(plan.model):
        if not Path(path).is_file():
            problems.append(("model", f"checkpoint file '{path}' not found"))
    for i, spec in enumerate(plan.eval.sets if not plan.stages else ()):  # a training run does not read them
        folder = spec if isinstance(spec, str) else spec.path
        if not Path(folder).is_dir():
            problems.append((f"eval.sets[{i}]", f"test-set folder '{folder}' not found"))
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
    if plan.stages:  # what training needs; a recipe that only evaluates trains and probes nothing
        try:
            scale = registry.build("task", plan.task).scale
        except RestorefwError as exc:
            raise RecipeError([*problems, ("task", str(exc))]) from None
        problems += memory_problems(plan, model, scale, available_memory(plan.run.device))
        problems += probe_recipe(plan, registry)
    if problems:
        raise RecipeError(problems)


def _gigabytes(size: float) -> str:
    return f"{size / 2**30:.3g} GB"


def available_memory(device: str) -> int | None:
    """Bytes free for a run on ``device`` (``None`` when unknown): CUDA's free memory, else MemAvailable."""
    import torch

    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda:
        if not torch.cuda.is_available():
            return None  # checked on another machine than the one it will run on
        free, _ = torch.cuda.mem_get_info(torch.device(device) if ":" in device else None)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _activation_bytes(model: Any, shape: tuple[int, ...]) -> int | None:
    """Bytes of the layer outputs of one forward on the meta device (what backward keeps, roughly)."""
    import torch

    total = 0

    def count(module: Any, inputs: Any, output: Any) -> None:
        nonlocal total
        for tensor in output if isinstance(output, (list, tuple)) else (output,):
            if isinstance(tensor, torch.Tensor):
                total += tensor.numel() * tensor.element_size()

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        with torch.no_grad():
            model(torch.empty(shape, device="meta"))
    except Exception:  # a model whose forward needs real values: no estimate, no refusal
        return None
    finally:
        for handle in handles:
            handle.remove()
    return total


def memory_problems(plan: Recipe, model: Any, scale: int, available: int | None) -> list[tuple[str, str]]:
    """Refuse a recipe whose one training step clearly cannot fit in ``available`` bytes.

    The estimate: weights, gradients and two Adam moments (4 copies of the parameters), plus the
    layer outputs of the largest micro-batch (measured by a forward on the meta device with one
    image, times the batch; halved under 16-bit autocast). It is meant to catch what clearly cannot
    fit, not to predict the peak.
    """
    if available is None or not plan.stages:
        return []
    state = 4 * sum(p.numel() * p.element_size() for p in model.parameters())
    if state > available:
        return [("model", f"the model's weights, gradients and optimizer state need about {_gigabytes(state)}, "
                          f"but {_gigabytes(available)} are available")]
    batch, patch, where = max(((p.batch_size, p.patch_size, f"stages[{i}].phases") for i, s in enumerate(plan.stages)
                               for p in s.phases), default=(0, 0, ""), key=lambda t: t[0] * t[1] ** 2)
    for i, stage in enumerate(plan.stages):
        b, p = stage.batch_size or plan.data.batch_size, stage.patch_size or plan.data.patch_size
        if b * p**2 > batch * patch**2:
            batch, patch = b, p
            where = f"stages[{i}].batch_size" if stage.batch_size else "data.batch_size"
    side = max(1, patch // scale)
    per_image = _activation_bytes(model, (1, describe(model).in_channels, side, side))
    if per_image is None:
        return []
    if plan.run.precision in ("bf16", "fp16"):
        per_image //= 2  # autocast keeps most activations in 16 bits
    needed = state + batch * per_image
    if needed <= available:
        return []
    return [(where, f"one training step needs about {_gigabytes(needed)} (a batch of {batch} patches of {patch}² "
                    f"pixels: {_gigabytes(batch * per_image)} of activations), but {_gigabytes(available)} are "
                    "available; lower the batch or patch size")]
