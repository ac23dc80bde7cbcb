"""Recipes: TOML → skeleton validation → per-component validation → resolved recipe.

Phase 1 checks the recipe's own sections (:class:`Recipe`, unknown keys are
errors). Phase 2 validates every component spec (``{type = ..., ...}``) with
the schema its plugin registered. Every problem is reported with its TOML
path, all at once.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from restorefw._errors import ConfigError, RecipeError, RestorefwError
from restorefw._registry import Registry
from restorefw._schema import ComponentField, StrictModel, validation_problems

__all__ = ["Recipe", "apply_overrides", "as_recipe", "dump_recipe", "load_recipe", "resolve_recipe"]


class RunSection(StrictModel):
    # The name becomes a folder under the output root: one path component, no way out of the root.
    name: str = Field("run", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100,
                      description="run name: letters, digits, '_', '.', '-' (the default folder is runs/<name>-<time>)")
    seed: int = 0
    device: str = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    deterministic: bool = False
    channels_last: bool = False
    compile: bool = False
    threads: int | None = Field(None, gt=0)
    keep_last_n: int | None = Field(None, ge=1, description="intermediate checkpoints kept per stage")
    autosave_minutes: float = Field(10.0, ge=0, description="save a resumable checkpoint at least this often "
                                    "(wall-clock minutes; 0 = only save_every, stage ends and signals)")
    ops: str | None = Field(None, description="compute-kernel choice: 'auto', 'reference' or op=implementation "
                            "pins (RESTOREFW_OPS syntax); unset = RESTOREFW_OPS")


class DataSection(StrictModel):
    train: ComponentField("dataset") | None = Field(None, description="training images; required with [[stages]]")
    val: ComponentField("dataset") | None = None
    patch_size: int = Field(64, gt=0)
    batch_size: int = Field(8, gt=0)
    augment: bool = True
    val_max_size: int | None = Field(256, gt=0)
    prefetch: bool | None = Field(None, description="make the next batch in a background thread during each "
                                  "step (pinned memory on CUDA); default: on with CUDA")


class Phase(StrictModel):
    """A progressive-learning phase: ``steps`` with their own patch and batch sizes."""

    steps: int = Field(gt=0)
    patch_size: int = Field(gt=0)
    batch_size: int = Field(gt=0)


class LoadSpec(StrictModel):
    """Weights loaded before a stage starts."""

    checkpoint: str
    into: str = ""
    strict: bool = True


class StageSection(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    steps: int = Field(gt=0)
    strategy: ComponentField("strategy") = "supervised"
    loss: ComponentField("loss") = "l1"
    optimizer: ComponentField("optimizer") = "adam"
    scheduler: ComponentField("scheduler") = "constant"
    task: ComponentField("task") | None = None
    train: ComponentField("dataset") | None = None
    patch_size: int | None = Field(None, gt=0)
    batch_size: int | None = Field(None, gt=0)
    phases: list[Phase] = []
    freeze: list[str] = []
    reinit: list[str] = []
    load: list[LoadSpec] = []
    clip_grad_norm: float | None = Field(None, gt=0)
    accumulate: int = Field(1, ge=1, description="micro-batches per optimizer step")
    nan_policy: Literal["stop", "skip"] = "stop"
    log_every: int = Field(10, gt=0)
    eval_every: int | None = Field(None, gt=0)
    save_every: int | None = Field(None, gt=0)

    @field_validator("steps", mode="before")
    @classmethod
    def _no_zero_steps(cls, value: Any) -> Any:
        # Scoring without training is its own job; a zero-step stage would only hide that.
        if value == 0 and not isinstance(value, bool):
            raise ValueError("a stage with 0 steps trains nothing; to score a model without training use "
                             "'restorefw eval MODEL SET...', or a recipe with [eval] sets and no [[stages]]")
        return value

    @model_validator(mode="after")
    def _phases_cover_steps(self) -> StageSection:
        if self.phases and sum(p.steps for p in self.phases) != self.steps:
            total = sum(p.steps for p in self.phases)
            raise ValueError(f"phases add up to {total} steps but the stage has steps = {self.steps}")
        return self


class EvalSetSpec(StrictModel):
    """A test set of ``[eval] sets``, as a table."""

    path: str = Field(description="the test-set folder")
    layout: str | None = Field(None, description="a registered layout; default: detected")
    scale: int | None = Field(None, ge=1, description="default: the model's")
    options: dict[str, Any] = Field({}, description="the layout's options (lq_dir, gt_dir, kernel, name, ...)")


class EvalSection(StrictModel):
    sets: list[str | EvalSetSpec] = Field([], description="test sets a recipe without [[stages]] is scored on "
                                          "(and 'restorefw eval RUN_DIR' without SET); folders or tables")
    protocol: str | dict[str, Any] | None = Field(None, description="a named protocol, or a table "
                                                  "{ name = ..., key = value, ... } changing its keys; "
                                                  "default: mzsr, sr or restore, by test set")
    limit: int | None = Field(None, gt=0, description="score the first N images of each set")
    save_images: bool = Field(False, description="write restored images and side-by-side strips")
    metrics: list[ComponentField("metric")] = ["psnr", "ssim"]
    crop_border: int | None = Field(None, ge=0)
    y_channel: bool | None = None
    samples: int = Field(4, ge=0)
    tile: int | None = Field(None, gt=0)
    tile_overlap: int = Field(32, ge=0)
    tile_mode: Literal["auto", "exact", "overlap"] = "auto"


class Recipe(StrictModel):
    """The recipe skeleton; component tables are validated by their own schemas."""

    run: RunSection = RunSection()
    data: DataSection = DataSection()
    task: ComponentField("task") | None = None
    model: ComponentField("model")
    stages: list[StageSection] = Field([], description="training stages; none: the recipe only evaluates")
    eval: EvalSection = EvalSection()
    loggers: list[ComponentField("logger")] = Field(
        [], description="where metrics, sample pictures and events go besides metrics.jsonl (always written)")

    @model_validator(mode="after")
    def _unique_stage_names(self) -> Recipe:
        names = [s.name for s in self.stages]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"stage names must be unique, repeated: {', '.join(duplicates)}")
        return self


def as_recipe(resolved: Mapping[str, Any] | Recipe) -> Recipe:
    """The typed form of a recipe resolved by :func:`resolve_recipe` (component tables stay specs).

    The engine reads sections and stages through it; the dict form is what users edit and what
    ``recipe.resolved.toml`` holds.
    """
    return resolved if isinstance(resolved, Recipe) else Recipe.model_validate(dict(resolved))


def load_recipe(path: str | Path, overrides: list[str] = ()) -> dict[str, Any]:
    """Read a recipe file into a dict, applying ``--set key=value`` overrides."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError([("", "recipe file not found")], source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError([("", f"cannot read recipe: {exc}")], source=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError([("", f"TOML syntax error: {exc}")], source=str(path)) from None
    try:
        return apply_overrides(data, overrides)
    except RecipeError as exc:
        raise RecipeError(exc.problems, source=str(path)) from None


def _parse_path(dotted: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in dotted.split("."):
        name, _, rest = piece.partition("[")
        if name:
            parts.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            parts.append(int(index))
            rest = rest.lstrip("[")
    return parts


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``dotted.key[0].x=value`` overrides; values are parsed as TOML, else taken as strings."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise RecipeError([("--set", f"expected key=value, got '{item}'")])
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        try:
            path = _parse_path(key.strip())
            node: Any = data
            for part in path[:-1]:
                node = node[part] if isinstance(part, int) else node.setdefault(part, {})
            node[path[-1]] = value
        except (ValueError, IndexError, KeyError, TypeError):
            raise RecipeError([(key, "--set path does not exist in the recipe")]) from None
    return data


def resolve_recipe(data: dict[str, Any], registry: Registry, source: str = "") -> dict[str, Any]:
    """Validate a recipe dict and return it with every default filled in.

    Raises:
        RecipeError: every problem, each with its TOML path.
    """
    try:
        skeleton = Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(validation_problems(exc), source=source) from None
    resolved = skeleton.model_dump(mode="python")
    problems: list[tuple[str, str]] = _training_needs(resolved) + _eval_problems(resolved, registry)
    targets = [("model", "model", resolved)] + ([("task", "task", resolved)] if resolved["task"] is not None else [])
    targets += [(k, "dataset", resolved["data"]) for k in ("train", "val") if resolved["data"][k] is not None]
    for i, stage in enumerate(resolved["stages"]):
        for key, kind in (("strategy", "strategy"), ("loss", "loss"), ("optimizer", "optimizer"),
                          ("scheduler", "scheduler"), ("task", "task"), ("train", "dataset")):
            if stage[key] is not None:
                targets.append((key, kind, stage, f"stages[{i}].{key}"))
    targets += [(i, "logger", resolved["loggers"], f"loggers[{i}]") for i in range(len(resolved["loggers"]))]
    for target in targets:
        key, kind, parent = target[:3]
        path = target[3] if len(target) > 3 else ("data." + key if parent is resolved["data"] else key)
        try:
            parent[key] = registry.resolve(kind, parent[key], path)
        except RecipeError as exc:
            problems.extend(exc.problems)
    if resolved["run"]["ops"] is not None:
        problems.extend(_check_ops(resolved["run"]["ops"]))
    if not problems:
        problems.extend(_resolve_metrics(resolved, registry))
    if problems:
        raise RecipeError(problems, source=source)
    return resolved


def _check_ops(text: str) -> list[tuple[str, str]]:
    """Syntax and names of a ``run.ops`` policy (the op registry loads torch, so only when set)."""
    from restorefw.ops import OpsPolicy, default_op_registry

    try:
        default_op_registry().check_policy(OpsPolicy.parse(text, "run.ops"))
    except RestorefwError as exc:
        return [("run.ops", str(exc).removeprefix("run.ops: "))]
    return []


def _training_needs(resolved: dict[str, Any]) -> list[tuple[str, str]]:
    """A recipe with stages needs training data and a task; one without stages needs something to score."""
    data = resolved["data"]
    if not resolved["stages"]:
        if data["train"] is not None:
            return [("stages", "none given, but data.train is: add [[stages]] to train, or drop data.train "
                               "to only evaluate")]
        if not resolved["eval"]["sets"] and data["val"] is None:
            return [("eval.sets", "a recipe without [[stages]] evaluates its model: give [eval] sets or data.val")]
        return []
    why = "required to train [[stages]] (a recipe without stages only evaluates)"
    return [(path, why) for path, value in (("data.train", data["train"]), ("task", resolved["task"]))
            if value is None]


def _eval_problems(resolved: dict[str, Any], registry: Registry) -> list[tuple[str, str]]:
    """The protocol and the layouts of ``[eval]``, checked by name and key."""
    from restorefw.data import protocol_from_spec

    section, problems = resolved["eval"], []
    if section["protocol"] is not None:
        try:
            protocol_from_spec(section["protocol"])
        except ConfigError as exc:
            problems.append((f"eval.{exc.path}", exc.message))
    for i, spec in enumerate(section["sets"]):
        layout = spec.get("layout") if isinstance(spec, dict) else None
        if layout is not None:
            try:
                registry.get("layout", layout)
            except RestorefwError as exc:
                problems.append((f"eval.sets[{i}].layout", str(exc)))
    return problems


def _resolve_metrics(resolved: dict[str, Any], registry: Registry) -> list[tuple[str, str]]:
    """Fill eval defaults from the task (border 0, RGB without one), then resolve the metric specs with them."""
    try:
        task = registry.build("task", resolved["task"]) if resolved["task"] is not None else None
    except RestorefwError as exc:
        return [("task", str(exc))]
    section = resolved["eval"]
    if section["crop_border"] is None:
        section["crop_border"] = task.crop_border if task is not None else 0
    if section["y_channel"] is None:
        section["y_channel"] = task.y_channel if task is not None else False
    problems: list[tuple[str, str]] = []
    metrics = []
    for i, spec in enumerate(section["metrics"]):
        spec = {"type": spec} if isinstance(spec, str) else dict(spec)
        try:
            fields = registry.get("metric", spec.get("type", "")).schema.model_fields
            for key in ("crop_border", "y_channel"):
                if key in fields and key not in spec:
                    spec[key] = section[key]
            metrics.append(registry.resolve("metric", spec, f"eval.metrics[{i}]"))
        except RestorefwError as exc:
            problems.extend(getattr(exc, "problems", [(f"eval.metrics[{i}]", str(exc))]))
    section["metrics"] = metrics
    return problems


def dump_recipe(resolved: dict[str, Any]) -> str:
    """Serialise a resolved recipe to TOML (``None`` values are left out)."""
    import tomli_w

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    return tomli_w.dumps(clean(resolved))


