"""The training loop shared by every strategy: stages, checkpoints, evaluation, resume."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from restorefw._errors import RunError
from restorefw._recipe import dump_recipe
from restorefw._registry import Registry
from restorefw.engine._checkpoint import atomic_write, load_state, read_state_dict, save_state, save_weights
from restorefw.engine._device import resolve_device, resolve_precision
from restorefw.engine._evaluate import evaluate, make_eval_pairs
from restorefw.engine._progress import Progress
from restorefw.engine._runlog import MetricsLog, plot_metrics, save_sample
from restorefw.engine._strategy import Batch, StepContext, Strategy
from restorefw.models import load_into

__all__ = ["RunInterrupted", "Runner"]

STATE_FILE = "checkpoints/last.state.pt"


class RunInterrupted(RunError):
    """Ctrl-C during training; a resumable checkpoint was written."""


def batch_seed(seed: int, stage_index: int, step: int) -> int:
    """Seed of one training batch: batches depend only on (seed, stage, step), so resume is exact."""
    return (seed * 1_000_003 + stage_index * 100_003 + step) % (2**63)


class Runner:
    """Runs a resolved recipe into a run folder.

    Args:
        recipe: a recipe resolved by :func:`restorefw.resolve_recipe`.
        registry: the registry the recipe was resolved with.
        out_dir: the run folder.
        quiet: no progress bar.
    """

    def __init__(self, recipe: dict[str, Any], registry: Registry, out_dir: str | Path, quiet: bool = False) -> None:
        self.recipe = recipe
        self.registry = registry
        self.out = Path(out_dir)
        self.progress = Progress(quiet=quiet)
        run = recipe["run"]
        if run["threads"]:
            torch.set_num_threads(run["threads"])
        if run["deterministic"]:
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.device = resolve_device(run["device"])
        self.precision = resolve_precision(run["precision"], self.device)
        self.seed = run["seed"]
        torch.manual_seed(self.seed)
        self.task = registry.build("task", recipe["task"])
        self.train_data = registry.build("dataset", recipe["data"]["train"])
        val_spec = recipe["data"]["val"]
        self.val_data = registry.build("dataset", val_spec) if val_spec else None
        self._check_patches()
        self.model: nn.Module = registry.build("model", recipe["model"]).to(self.device)
        if run["channels_last"]:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.metrics = {spec["type"]: registry.build("metric", spec) for spec in recipe["eval"]["metrics"]}
        self.log = MetricsLog(self.out / "metrics.jsonl")
        self.summary: dict[str, Any] = {"stages": {}}
        self.global_step = 0

    def _check_patches(self) -> None:
        """Every training image must hold the largest patch of every stage (checked before training)."""
        from restorefw.data import check_min_size

        data = self.recipe["data"]
        for index, spec in enumerate(self.recipe["stages"]):
            task = self.registry.build("task", spec["task"]) if spec["task"] else self.task
            patches = [p["patch_size"] for p in spec["phases"]] or [spec["patch_size"] or data["patch_size"]]
            check_min_size(self.train_data, max(patches), task.scale)

    def checkpoint_metadata(self, stage: str, step: int) -> dict[str, Any]:
        """Metadata stored in every weights file: enough to rebuild the model."""
        from restorefw import __version__

        return {"restorefw": __version__, "model": self.recipe["model"], "task": self.recipe["task"],
                "stage": stage, "step": step}

    def run(self, resume: bool = False) -> dict[str, Any]:
        """Train every stage, evaluate, and write the run folder; returns the summary."""
        start = time.perf_counter()
        first_stage, first_step, state = 0, 0, None
        if resume:
            first_stage, first_step, state = self._load_resume_state()
        else:
            self.out.mkdir(parents=True, exist_ok=True)
            text = dump_recipe(self.recipe)
            atomic_write(self.out / "recipe.resolved.toml", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        pairs = make_eval_pairs(self.val_data, self.task, self.seed, self.recipe["data"]["val_max_size"]) \
            if self.val_data is not None else []
        for index in range(first_stage, len(self.recipe["stages"])):
            self._run_stage(index, pairs, first_step if index == first_stage else 0,
                            state if index == first_stage else None)
        plot_metrics(self.log.read(), self.out / "plots")
        self.summary.update(self._environment(), status="complete", wall_time_s=time.perf_counter() - start)
        text = json.dumps(self.summary, indent=2, allow_nan=True)
        atomic_write(self.out / "summary.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        return self.summary

    def _environment(self) -> dict[str, Any]:
        from restorefw import __version__

        return {"name": self.recipe["run"]["name"], "device": str(self.device), "precision": self.precision,
                "versions": {"restorefw": __version__, "torch": torch.__version__, "python": platform.python_version()}}

    def _load_resume_state(self) -> tuple[int, int, dict[str, Any]]:
        path = self.out / STATE_FILE
        if not path.exists():
            raise RunError(f"cannot resume '{self.out}': no {STATE_FILE} (the run never saved a checkpoint)")
        state = load_state(path)
        self.model.load_state_dict(state["model"])
        self.summary = state.get("summary", self.summary)
        self.global_step = state.get("global_step", 0)
        torch.set_rng_state(state["torch_rng"])
        names = [s["name"] for s in self.recipe["stages"]]
        self.log.truncate_after(state["stage"], state["step"], names)
        if state["stage_complete"]:
            return state["stage_index"] + 1, 0, None
        return state["stage_index"], state["step"], state

    def _prepare_stage(self, index: int, resuming: bool) -> tuple[StepContext, Strategy]:
        spec = self.recipe["stages"][index]
        if not resuming:
            for load in spec["load"]:
                load_into(self._unwrap(load["into"]), read_state_dict(load["checkpoint"]), load["checkpoint"],
                          strict=load["strict"])
        for name, param in self.model.named_parameters():
            param.requires_grad_(not any(name == p or name.startswith(p.rstrip(".") + ".") for p in spec["freeze"]))
        strategy: Strategy = self.registry.build("strategy", spec["strategy"])
        strategy.prepare(self.model, spec["name"])
        self.model.to(self.device)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise RunError(f"stage '{spec['name']}' has nothing to train: every parameter is frozen")
        optimizer = self.registry.build("optimizer", spec["optimizer"])(params)
        scheduler = self.registry.build("scheduler", spec["scheduler"])(optimizer, spec["steps"])
        scaler = torch.amp.GradScaler(self.device.type) if self.precision == "fp16" else None
        task = self.registry.build("task", spec["task"]) if spec["task"] else self.task
        model = torch.compile(self.model) if self.recipe["run"]["compile"] else self.model
        ctx = StepContext(model=model, loss_fn=self.registry.build("loss", spec["loss"]), optimizer=optimizer,
                          scheduler=scheduler, task=task, device=self.device, precision=self.precision,
                          stage=spec["name"], clip_grad_norm=spec["clip_grad_norm"], nan_policy=spec["nan_policy"],
                          scaler=scaler)
        return ctx, strategy

    def _unwrap(self, prefix: str) -> nn.Module:
        return self.model.get_submodule(prefix.rstrip(".")) if prefix else self.model

    def _batch_shape(self, spec: dict[str, Any], step: int) -> tuple[int, int]:
        data = self.recipe["data"]
        remaining = step
        for phase in spec["phases"]:
            if remaining < phase["steps"]:
                return phase["batch_size"], phase["patch_size"]
            remaining -= phase["steps"]
        return spec["batch_size"] or data["batch_size"], spec["patch_size"] or data["patch_size"]

    def make_batch(self, index: int, step: int, task: Any) -> Batch:
        """The training batch of a step: a pure function of (seed, stage, step)."""
        from restorefw.data import sample_batch

        spec = self.recipe["stages"][index]
        batch_size, patch = self._batch_shape(spec, step)
        generator = torch.Generator().manual_seed(batch_seed(self.seed, index, step))
        sampled = sample_batch(self.train_data, batch_size, patch, generator, augment=self.recipe["data"]["augment"])
        lq, target = sampled if isinstance(sampled, tuple) else task.degradation(sampled, generator)
        return Batch(lq.to(self.device, non_blocking=True), target.to(self.device, non_blocking=True))

    def _run_stage(self, index: int, pairs: list[Any], start_step: int, state: dict[str, Any] | None) -> None:
        spec = self.recipe["stages"][index]
        ctx, strategy = self._prepare_stage(index, resuming=state is not None)
        if state is not None:
            ctx.optimizer.load_state_dict(state["optimizer"])
            ctx.scheduler.load_state_dict(state["scheduler"])
            if ctx.scaler is not None and state.get("scaler"):
                ctx.scaler.load_state_dict(state["scaler"])
        stage_start, losses = time.perf_counter(), []
        eval_every = spec["eval_every"] or spec["steps"]
        step = start_step
        try:
            with self.progress.stage(spec["name"], spec["steps"], start_step) as advance:
                while step < spec["steps"]:
                    ctx.step = step
                    ctx.generator = torch.Generator().manual_seed(batch_seed(self.seed, index, step) ^ 0x5DEECE66D)
                    logs = strategy.train_step(ctx, self.make_batch(index, step, ctx.task))
                    step += 1
                    self.global_step += 1
                    losses.append(logs["loss"])
                    advance(logs["loss"])
                    if step % spec["log_every"] == 0 or step == spec["steps"]:
                        self._log(spec["name"], step, {**logs, "lr": ctx.optimizer.param_groups[0]["lr"]})
                    if pairs and (step % eval_every == 0 or step == spec["steps"]):
                        self._evaluate(spec["name"], step, pairs, final=step == spec["steps"])
                    if spec["save_every"] and step % spec["save_every"] == 0 and step < spec["steps"]:
                        self._save(index, step, ctx, complete=False)
        except KeyboardInterrupt:
            self._save(index, step, ctx, complete=False)
            raise RunInterrupted(f"interrupted in stage '{spec['name']}' at step {step}; "
                                 f"continue with: restorefw run --resume {self.out}") from None
        record = self.summary["stages"].setdefault(spec["name"], {})
        if pairs:
            extra = strategy.evaluate_extra(self.model, pairs, self.metrics, ctx)
            if extra:
                record["strategy_eval"] = extra
        record.update(steps=spec["steps"], time_s=time.perf_counter() - stage_start,
                      final_loss=sum(losses[-10:]) / max(1, len(losses[-10:])) if losses else None,
                      skipped_steps=ctx.skipped_steps)
        self._save(index, spec["steps"], ctx, complete=True)

    def _log(self, stage: str, step: int, values: dict[str, Any]) -> None:
        self.log.write({"stage": stage, "step": step, "global_step": self.global_step, **values})

    def _evaluate(self, stage: str, step: int, pairs: list[Any], final: bool) -> None:
        ev = self.recipe["eval"]
        means, records, outputs = evaluate(self.model, pairs, self.metrics, self.device, self.precision,
                                           ev["tile"], ev["tile_overlap"])
        self._log(stage, step, {f"val_{k}": v for k, v in means.items() if not k.startswith("input_")})
        self.progress.note(stage, step, {k: v for k, v in means.items() if not k.startswith("input_")})
        if not final:
            return
        self.summary["stages"].setdefault(stage, {}).update(
            val={k: v for k, v in means.items() if not k.startswith("input_")},
            input={k[len("input_"):]: v for k, v in means.items() if k.startswith("input_")},
            per_image=records,
        )
        for pair, restored in list(zip(pairs, outputs, strict=True))[: ev["samples"]]:
            save_sample(self.out / "samples" / f"{stage}_{pair.name}.png", pair.baseline, restored, pair.target)

    def _save(self, index: int, step: int, ctx: StepContext, complete: bool) -> None:
        name = self.recipe["stages"][index]["name"]
        weights = self.model.state_dict()
        meta = self.checkpoint_metadata(name, step)
        ckpt = self.out / "checkpoints"
        save_weights(ckpt / f"{name}-{step}.safetensors", weights, meta)
        save_state(self.out / STATE_FILE, {
            "stage_index": index, "stage": name, "step": step, "stage_complete": complete,
            "global_step": self.global_step, "model": weights, "optimizer": ctx.optimizer.state_dict(),
            "scheduler": ctx.scheduler.state_dict(), "scaler": ctx.scaler.state_dict() if ctx.scaler else {},
            "torch_rng": torch.get_rng_state(), "summary": self.summary,
        })
        save_weights(ckpt / "last.safetensors", weights, meta)
