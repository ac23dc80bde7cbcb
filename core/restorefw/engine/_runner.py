"""The training loop shared by every strategy: stages, checkpoints, evaluation, resume."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from restorefw._builder import build_model
from restorefw._errors import RunError
from restorefw._recipe import Recipe, StageSection, as_recipe, dump_recipe
from restorefw._registry import Registry
from restorefw.engine._batches import BatchMaker, Prefetcher
from restorefw.engine._blame import build_blamed
from restorefw.engine._device import compile_model, resolve_device, resolve_precision
from restorefw.engine._distributed import any_rank, init_distributed, reduce_mean, shutdown
from restorefw.engine._evaluate import evaluate, make_eval_pairs
from restorefw.engine._isa import cpu_isa
from restorefw.engine._progress import Progress
from restorefw.engine._runfolder import saved_steps
from restorefw.engine._runlog import plot_metrics, safe_name, save_sample
from restorefw.engine._signals import EXIT_CODES, SignalRequests
from restorefw.engine._strategy import StepContext, Strategy
from restorefw.engine._tracking import Tracker
from restorefw.loggers import MetricsLog, Step
from restorefw.models import model_precision
from restorefw.ops import use
from restorefw.weights import atomic_write, load_into, load_state, read_state_dict, save_state, save_weights

__all__ = ["STATE_FILE", "RunInterrupted", "Runner", "environment"]

STATE_FILE = "checkpoints/last.state.pt"


class RunInterrupted(RunError):
    """Training stopped by Ctrl-C or SIGTERM after writing a resumable checkpoint.

    Attributes:
        exit_code: the conventional status for the signal (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _reinit(module: nn.Module) -> None:
    """Fresh initialisation of every submodule that defines ``reset_parameters`` (conv, linear, norms)."""
    for sub in module.modules():
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset):
            reset()



def _following(stage: StageSection, key: tuple[int, int, int]) -> tuple[int, int, int] | None:
    """The key of the batch after ``key`` in its stage, if any."""
    index, step, micro = key
    if micro + 1 < stage.accumulate:
        return index, step, micro + 1
    return (index, step + 1, 0) if step + 1 < stage.steps else None


def _no_loss(stage: StageSection) -> Callable[[Tensor, Tensor], Tensor]:
    def unused(pred: Tensor, target: Tensor) -> Tensor:
        raise RunError(f"strategy '{stage.strategy['type']}' of stage '{stage.name}' declares uses_loss = False "
                       "but called ctx.loss_fn")

    return unused


def _version() -> str:
    try:
        return metadata.version("restorefw")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def environment(device: torch.device, precision: str, world_size: int = 1) -> dict[str, Any]:
    """Where a job ran: device, precision, processes, threads, the CPU and its ISA, and versions (for summaries).

    The ISA (AVX-512, its bf16 and fp16 extensions, AMX) is what ``auto`` precision and the speed of
    each precision rest on, so numbers from machines that differ in it are told apart.
    """
    return {"device": str(device), "precision": precision, "world_size": world_size,
            "threads": torch.get_num_threads(), "cpu": cpu_isa().as_dict(),
            "versions": {"restorefw": _version(), "torch": torch.__version__, "python": platform.python_version()}}

class Runner:
    """Runs a resolved recipe into a run folder (from rank 0 only under torchrun).

    Args:
        recipe: a recipe resolved by :func:`restorefw.resolve_recipe`.
        registry: the registry the recipe was resolved with.
        out_dir: the run folder.
        quiet: no progress output.
        resume: the run continues from ``out_dir``'s training state, which holds every weight,
            so the recipe's checkpoints are not read.
    """

    def __init__(self, recipe: Mapping[str, Any] | Recipe, registry: Registry, out_dir: str | Path,
                 quiet: bool = False, resume: bool = False) -> None:
        self.plan = as_recipe(recipe)
        self.registry, self.out, self.resuming = registry, Path(out_dir), resume
        run = self.plan.run
        if run.threads:
            torch.set_num_threads(run.threads)
        if run.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        device = resolve_device(run.device)
        self.dist = init_distributed(device.type)
        self.device = self.dist.device(device)
        self.precision = resolve_precision(run.precision, self.device)
        self.progress = Progress(quiet=quiet or not self.dist.is_main)
        torch.manual_seed(run.seed)
        self.task = build_blamed(registry, "task", self.plan.task)
        train = registry.build("dataset", self.plan.data.train)
        self.batches = BatchMaker(self.plan, registry, train, self.task, self.dist.rank, self.dist.world_size)
        self.batches.check_sizes()
        val_spec = self.plan.data.val
        self.val_data = registry.build("dataset", val_spec) if val_spec else None
        self.model_spec: dict[str, Any] = dict(self.plan.model)
        with use(run.ops):
            self.model: nn.Module = build_model(registry, self.model_spec, checkpoints=not resume).to(self.device)
        if run.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.metrics = {spec["type"]: build_blamed(registry, "metric", spec) for spec in self.plan.eval.metrics}
        self.log = MetricsLog(self.out / "metrics.jsonl")
        self.summary: dict[str, Any] = {"stages": {}}
        self.global_step = 0
        self.signals = SignalRequests()
        self._last_save = time.monotonic()
        self.tracker = Tracker.for_run(registry, self.plan.loggers, enabled=self.dist.is_main)
        self.resumed_from: Step | None = None

    def checkpoint_metadata(self, stage: str, step: int) -> dict[str, Any]:
        """Metadata stored in every weights file: enough to rebuild the model."""
        return {"restorefw": _version(), "model": self.model_spec, "task": self.plan.task, "stage": stage,
                "step": step}

    def run(self, resume: bool | None = None) -> dict[str, Any]:
        """Train every stage, evaluate, and write the run folder; returns the summary.

        Args:
            resume: continue from the run folder's training state (default: as constructed).
        """
        resume = self.resuming if resume is None else resume
        start = time.perf_counter()
        first_stage, first_step, state = self._load_resume_state() if resume else (0, 0, None)
        if not resume and self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            env = self._environment()
            # Comments only: re-running the file reproduces the recipe; these say where it ran.
            header = (f"# restorefw {env['versions']['restorefw']}, torch {env['versions']['torch']}, "
                      f"python {env['versions']['python']}\n# device {env['device']}, precision {env['precision']}, "
                      f"threads {env['threads']}, world size {env['world_size']}\n# cpu {env['cpu']['model']}, "
                      f"bf16 matrix units {env['cpu']['bf16_matrix_units']}\n")
            text = header + dump_recipe(self.plan.model_dump(mode="python"))
            atomic_write(self.out / "recipe.resolved.toml", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        pairs = []
        if self.val_data is not None and self.dist.is_main:
            pairs = make_eval_pairs(self.val_data, self.task, self.plan.run.seed, self.plan.data.val_max_size)
        try:
            with self.signals.installed(), self.tracker.session(self.plan, self.out, self.resumed_from,
                                                                interrupts=(RunInterrupted,)):
                for index in range(first_stage, len(self.plan.stages)):
                    self._run_stage(index, pairs, first_step if index == first_stage else 0,
                                    state if index == first_stage else None)
        finally:
            shutdown(self.dist)
        if self.dist.is_main:
            plot_metrics(self.log.read(), self.out / "plots")
            self.summary.update(self._environment(), status="complete", wall_time_s=time.perf_counter() - start)
            text = json.dumps(self.summary, indent=2, allow_nan=True)
            atomic_write(self.out / "summary.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        return self.summary

    def _environment(self) -> dict[str, Any]:
        return {"name": self.plan.run.name, **environment(self.device, self.precision, self.dist.world_size)}

    def _load_resume_state(self) -> tuple[int, int, dict[str, Any] | None]:
        path = self.out / STATE_FILE
        if not path.exists():
            raise RunError(f"cannot resume '{self.out}': no {STATE_FILE} (the run never saved a checkpoint)")
        state = load_state(path)
        if state.get("model_spec", self.model_spec) != self.model_spec:
            self.model_spec = state["model_spec"]
            self.model = build_model(self.registry, self.model_spec, checkpoints=False).to(self.device)
        self.model.load_state_dict(state["model"])
        self.summary = state.get("summary", self.summary)
        self.global_step = state.get("global_step", 0)
        torch.set_rng_state(state["torch_rng"])
        self.resumed_from = Step(state["stage"], state["step"], self.global_step)
        if state["stage_complete"]:
            return state["stage_index"] + 1, 0, None
        return state["stage_index"], state["step"], state

    def _prepare_stage(self, index: int, state: dict[str, Any] | None) -> tuple[StepContext, Strategy]:
        stage = self.plan.stages[index]
        if state is None:
            for prefix in stage.reinit:
                _reinit(self.model.get_submodule(prefix.rstrip(".")) if prefix else self.model)
            for load in stage.load:
                target = self.model.get_submodule(load.into.rstrip(".")) if load.into else self.model
                load_into(target, read_state_dict(load.checkpoint), load.checkpoint, strict=load.strict)
        for name, param in self.model.named_parameters():
            param.requires_grad_(not any(name == p or name.startswith(p.rstrip(".") + ".") for p in stage.freeze))
        strategy: Strategy = build_blamed(self.registry, "strategy", stage.strategy)
        if self.dist.enabled and not strategy.supports_distributed:
            raise RunError(f"strategy '{stage.strategy['type']}' of stage '{stage.name}' does not support "
                           "torchrun/DDP; run it as a single process")
        strategy.prepare(self.model, stage.name)
        self.model_spec = strategy.model_spec(self.model_spec)
        self.model.to(self.device)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise RunError(f"stage '{stage.name}' has nothing to train: every parameter is frozen")
        optimizer = self.registry.build("optimizer", stage.optimizer)(params)
        scheduler = self.registry.build("scheduler", stage.scheduler)(optimizer, stage.steps)
        # A model whose gradients are unsafe in 16 bits (e.g. MZSR's) trains in fp32 whatever was asked.
        precision = model_precision(self.model, self.precision, "training")
        self.summary["stages"].setdefault(stage.name, {})["precision"] = precision
        scaler = torch.amp.GradScaler(self.device.type) if precision == "fp16" else None
        model = self.dist.wrap(self.model, self.device)
        if self.plan.run.compile:
            model, how = compile_model(model, self.device)
            self.summary["stages"][stage.name]["compile"] = how
            if how != "inductor":
                self.progress.message(f"run.compile: stage '{stage.name}' runs {how}")
        # A strategy with its own objective gets no loss component (nothing heavy built for nothing).
        loss_fn = build_blamed(self.registry, "loss", stage.loss) if strategy.uses_loss else _no_loss(stage)
        ctx = StepContext(model=model, loss_fn=loss_fn, optimizer=optimizer,
                          scheduler=scheduler, task=self.batches.tasks[index], device=self.device,
                          precision=precision, stage=stage.name, clip_grad_norm=stage.clip_grad_norm,
                          nan_policy=stage.nan_policy, scaler=scaler, accumulate=stage.accumulate)
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            if scaler is not None and state.get("scaler"):
                scaler.load_state_dict(state["scaler"])
        return ctx, strategy

    def _run_stage(self, index: int, pairs: list[Any], start_step: int, state: dict[str, Any] | None) -> None:
        stage = self.plan.stages[index]
        ctx, strategy = self._prepare_stage(index, state)
        self.tracker.event(Step(stage.name, start_step, self.global_step), "stage_start", steps=stage.steps,
                           strategy=stage.strategy["type"])
        stage_start, losses = time.perf_counter(), []
        eval_every, step = stage.eval_every or stage.steps, start_step
        prefetch = self.plan.data.prefetch
        prefetch = self.device.type == "cuda" if prefetch is None else prefetch
        try:
            with self.progress.stage(stage.name, stage.steps, start_step, stage.log_every) as advance, \
                    Prefetcher.running(self.batches, self.device, strategy.uses_degradation) if prefetch \
                    else nullcontext() as prefetcher:
                while step < stage.steps:
                    ctx.step = step
                    for micro in range(stage.accumulate):
                        ctx.micro = micro
                        ctx.generator = self.batches.generator(index, step, micro, salt=0x5DEECE66D)
                        key = (index, step, micro)
                        batch = (prefetcher(key, _following(stage, key)) if prefetcher is not None
                                 else self.batches(index, step, micro, self.device, strategy.uses_degradation))
                        logs = strategy.train_step(ctx, batch)
                    step += 1
                    self.global_step += 1
                    losses.append(logs["loss"])
                    images = batch.lq.shape[0] * stage.accumulate * self.dist.world_size
                    advance(logs["loss"], images)
                    self.tracker.count(images)
                    if step % stage.log_every == 0 or step == stage.steps:
                        logs = reduce_mean({**logs, "lr": ctx.optimizer.param_groups[0]["lr"]}, self.dist, self.device)
                        self._log(stage.name, step, logs)
                    if pairs and (step % eval_every == 0 or step == stage.steps):
                        self._saving_on_failure(index, step, ctx, "evaluation", lambda step=step: self._evaluate(
                            stage.name, step, pairs, final=step == stage.steps))
                    self._checkpoint_if_due(index, step, ctx)
        except KeyboardInterrupt:
            self._save(index, step, ctx, complete=False)
            raise RunInterrupted(f"interrupted in stage '{stage.name}' at step {step}; "
                                 f"continue with: restorefw run --resume {self.out}") from None
        record = self.summary["stages"].setdefault(stage.name, {})
        if pairs:
            extra = self._saving_on_failure(index, step, ctx, "the strategy's evaluation",
                                            lambda: strategy.evaluate_extra(self.model, pairs, self.metrics, ctx))
            if extra:
                record["strategy_eval"] = extra
        recent = losses[-10:]
        record.update(steps=stage.steps, time_s=time.perf_counter() - stage_start,
                      final_loss=sum(recent) / len(recent) if recent else None, skipped_steps=ctx.skipped_steps)
        self.tracker.event(Step(stage.name, stage.steps, self.global_step), "stage_end", time_s=record["time_s"],
                           final_loss=record["final_loss"])
        self._save(index, stage.steps, ctx, complete=True)

    def _checkpoint_if_due(self, index: int, step: int, ctx: StepContext) -> None:
        """Save at ``save_every``, on the autosave clock and on SIGUSR1; save and stop on SIGINT/SIGTERM."""
        stage = self.plan.stages[index]
        if step >= stage.steps:
            return  # the stage's final checkpoint follows
        stop = any_rank(self.signals.stop is not None, self.dist, self.device)
        autosave = self.plan.run.autosave_minutes * 60
        if stop or self.signals.save or (stage.save_every and step % stage.save_every == 0) or \
                (autosave and time.monotonic() - self._last_save >= autosave):
            self._save(index, step, ctx, complete=False)
            self.signals.save = False
        if stop:
            received = self.signals.stop
            name = received.name if received is not None else "another rank's signal"
            raise RunInterrupted(f"stopped by {name} in stage '{stage.name}' at step {step}; a resumable checkpoint "
                                 f"is saved: continue with restorefw run --resume {self.out}",
                                 EXIT_CODES.get(received, 143) if received is not None else 143)

    def _saving_on_failure(self, index: int, step: int, ctx: StepContext, what: str, work: Callable[[], Any]) -> Any:
        """Run ``work``; if it fails, save the trained weights first, then report the failure."""
        try:
            return work()
        except (KeyboardInterrupt, RunInterrupted):
            raise
        except Exception as exc:
            self._save(index, step, ctx, complete=False)
            stage = self.plan.stages[index].name
            raise RunError(f"{what} failed in stage '{stage}' at step {step}: {exc}; the trained weights are saved "
                           f"({self.out / 'checkpoints' / f'{stage}-{step}.safetensors'}); fix the cause and "
                           f"continue with restorefw run --resume {self.out}") from exc

    def _log(self, stage: str, step: int, values: dict[str, Any], group: str = "train") -> None:
        if self.dist.is_main:
            self.tracker.scalars(Step(stage, step, self.global_step), values, group)

    def _evaluate(self, stage: str, step: int, pairs: list[Any], final: bool) -> None:
        ev = self.plan.eval
        means, records, outputs = evaluate(self.model, pairs, self.metrics, self.device, self.precision,
                                           ev.tile, ev.tile_overlap, ev.tile_mode)
        scores = {k: v for k, v in means.items() if not k.startswith("input_")}
        self._log(stage, step, scores, "val")
        self.progress.note(stage, step, scores)
        if not final:
            return
        self.summary["stages"].setdefault(stage, {}).update(
            val=scores, input={k[len("input_"):]: v for k, v in means.items() if k.startswith("input_")},
            per_image=records,
        )
        for pair, restored in list(zip(pairs, outputs, strict=True))[: ev.samples]:
            strip = save_sample(self.out / "samples" / f"{stage}_{safe_name(pair.name)}.png", pair.baseline,
                                restored, pair.target)
            self.tracker.image(Step(stage, step, self.global_step), f"samples/{pair.name}", strip)

    def _save(self, index: int, step: int, ctx: StepContext, complete: bool) -> None:
        if not self.dist.is_main:
            return
        # Everything logged up to this step is on disk before a resume could start from it.
        self.tracker.flush()
        name = self.plan.stages[index].name
        weights, meta, ckpt = self.model.state_dict(), self.checkpoint_metadata(name, step), self.out / "checkpoints"
        save_weights(ckpt / f"{name}-{step}.safetensors", weights, meta)
        save_state(self.out / STATE_FILE, {
            "stage_index": index, "stage": name, "step": step, "stage_complete": complete,
            "global_step": self.global_step, "model": weights, "model_spec": self.model_spec,
            "optimizer": ctx.optimizer.state_dict(),
            "scheduler": ctx.scheduler.state_dict(), "scaler": ctx.scaler.state_dict() if ctx.scaler else {},
            "torch_rng": torch.get_rng_state(), "summary": self.summary,
        })
        save_weights(ckpt / "last.safetensors", weights, meta)
        self._prune(name, step)
        self._last_save = time.monotonic()
        self.tracker.event(Step(name, step, self.global_step), "checkpoint", stage_complete=complete,
                           file=f"checkpoints/{name}-{step}.safetensors")

    def _prune(self, stage: str, newest: int) -> None:
        """Keep the newest ``keep_last_n`` intermediate checkpoints of a stage (stage-final ones always stay)."""
        keep = self.plan.run.keep_last_n
        if not keep:
            return
        final = next(s.steps for s in self.plan.stages if s.name == stage)
        for old in [s for s in saved_steps(self.out, stage) if s != final][:-keep]:
            (self.out / "checkpoints" / f"{stage}-{old}.safetensors").unlink(missing_ok=True)
