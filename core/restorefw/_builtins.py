"""Components the core ships itself: optimizers, LR schedules, encoder–decoder composition, loggers,
test-set layouts."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, create_model

from restorefw._schema import ComponentField, StrictModel
from restorefw.hookspecs import Register, hookimpl
from restorefw.loggers import JsonlLogger, TensorBoardConfig, TensorBoardLogger


class AdamConfig(StrictModel):
    lr: float = Field(1e-3, gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(0.0, ge=0)
    eps: float = Field(1e-8, gt=0)


class SGDConfig(StrictModel):
    lr: float = Field(1e-2, gt=0)
    momentum: float = Field(0.0, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    nesterov: bool = False


def _adam(cls_name: str) -> Callable[..., Any]:
    def factory(**cfg: Any) -> Callable[..., Any]:
        import torch

        cls = getattr(torch.optim, cls_name)

        def make(params: Any) -> Any:
            params = [dict(p, params=list(p["params"])) if isinstance(p, dict) else p for p in params]
            # torch's default on the CPU is a Python loop of about ten ops per parameter tensor
            # (its multi-tensor path defaults only on CUDA); the fused kernel makes one pass per
            # tensor: 0.05 s instead of 0.5 s per step for Restormer's 494 tensors (docs/performance.md).
            tensors = [t for p in params for t in (p["params"] if isinstance(p, dict) else [p])]
            fused = bool(tensors) and all(t.device.type in ("cpu", "cuda") and t.is_floating_point() for t in tensors)
            return cls(params, **cfg, fused=fused or None)

        return make

    factory.__doc__ = f"torch.optim.{cls_name}"
    return factory


def _sgd(**cfg: Any) -> Callable[..., Any]:
    """torch.optim.SGD"""
    import torch

    return lambda params: torch.optim.SGD(params, **cfg)


class ScheduleConfig(StrictModel):
    kind: Literal["constant", "cosine", "flat_cosine", "step"] = "constant"
    warmup_steps: int = Field(0, ge=0)
    flat_fraction: float = Field(0.0, ge=0, lt=1)
    eta_min: float = Field(0.0, ge=0)
    step_size: int = Field(1000, gt=0)
    gamma: float = Field(0.5, gt=0)


def lr_factor(step: int, total: int, base_lr: float, cfg: ScheduleConfig) -> float:
    """Multiplier of the base LR after ``step`` optimizer steps of ``total``."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.kind == "constant":
        return 1.0
    if cfg.kind == "step":
        return cfg.gamma ** (step // cfg.step_size)
    flat = int(cfg.flat_fraction * total) if cfg.kind == "flat_cosine" else 0
    start = max(flat, cfg.warmup_steps)
    if step < start:
        return 1.0
    progress = min(1.0, (step - start) / max(1, total - start))
    floor = cfg.eta_min / base_lr
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def _schedule(kind: str) -> Callable[..., Any]:
    def factory(**params: Any) -> Callable[..., Any]:
        import torch

        cfg = ScheduleConfig(kind=kind, **params)

        def make(optimizer: Any, total_steps: int) -> Any:
            lambdas = [
                (lambda s, lr=g["lr"]: lr_factor(s, total_steps, lr, cfg)) for g in optimizer.param_groups
            ]
            return torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)

        return make

    return factory


def _schedule_schema(kind: str) -> type[StrictModel]:
    fields = {"constant": (), "step": ("step_size", "gamma"), "cosine": ("eta_min",)}
    keep = {"warmup_steps", *fields.get(kind, ("eta_min", "flat_fraction"))}
    return create_model(
        f"{kind.title().replace('_', '')}ScheduleConfig",
        __base__=StrictModel,
        **{k: (ScheduleConfig.model_fields[k].annotation, ScheduleConfig.model_fields[k]) for k in sorted(keep)},
    )


class EncoderDecoderConfig(StrictModel):
    encoder: ComponentField("model")
    decoder: ComponentField("model")


def _encoder_decoder(encoder: Any, decoder: Any) -> Any:
    """Compose an encoder and a decoder from any plugins."""
    from restorefw.models import EncoderDecoder

    return EncoderDecoder(encoder, decoder)


@hookimpl
def register_optimizers(register: Register) -> None:
    register("adam", _adam("Adam"), schema=AdamConfig, license="BSD-3-Clause")
    register("adamw", _adam("AdamW"), schema=AdamConfig, license="BSD-3-Clause")
    register("sgd", _sgd, schema=SGDConfig, license="BSD-3-Clause")


@hookimpl
def register_schedulers(register: Register) -> None:
    descriptions = {
        "constant": "constant LR (after optional linear warm-up)",
        "cosine": "cosine decay to eta_min",
        "flat_cosine": "constant for flat_fraction of the steps, then cosine to eta_min (Restormer)",
        "step": "multiply by gamma every step_size steps",
    }
    for kind, text in descriptions.items():
        register(kind, _schedule(kind), schema=_schedule_schema(kind), description=text, license="Apache-2.0")


@hookimpl
def register_models(register: Register) -> None:
    register(
        "encoder_decoder",
        _encoder_decoder,
        schema=EncoderDecoderConfig,
        description="any registered encoder + decoder; state-dict keys 'encoder.*', 'decoder.*'",
        license="Apache-2.0",
    )


class JsonlConfig(StrictModel):
    """The ``jsonl`` logger takes no parameters."""


@hookimpl
def register_loggers(register: Register) -> None:
    register("jsonl", JsonlLogger, schema=JsonlConfig, license="Apache-2.0",
             description="metrics.jsonl and logs/events.jsonl in the run folder (always on)")
    register("tensorboard", TensorBoardLogger, schema=TensorBoardConfig, license="Apache-2.0",
             description="TensorBoard event files in logs/tensorboard (pip install 'restorefw[tensorboard]')")


@hookimpl
def register_layouts(register: Register) -> None:
    from restorefw.data import LAYOUTS

    for layout in LAYOUTS:
        register(layout.name, type(layout), description=layout.looks_for, license="Apache-2.0")
