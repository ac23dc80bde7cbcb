"""The conformance kit's strategy, head/tail and dataset checks: sound components pass, broken ones are caught."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor, nn

import restorefw
from restorefw.engine import Batch, StepContext, Strategy
from restorefw.testing import ContractError, check_dataset, check_head_tail, check_strategy

UNET = {"type": "encoder_decoder", "encoder": {"type": "ddep.unet.encoder", "widths": [8, 16]},
        "decoder": {"type": "ddep.unet.decoder", "widths": [8, 16]}}


class WarmupThenFreeze(Strategy):
    """Supervised; from step ``warmup`` on only the convolution's bias trains (the documented pattern)."""

    def __init__(self, warmup: int = 1) -> None:
        self.warmup = warmup

    def train_step(self, ctx: StepContext, batch: Batch) -> dict[str, float]:
        # Decided from ctx.step on every step, so a resumed run freezes the same parameters.
        frozen = ctx.step >= self.warmup
        for name, param in ctx.model.named_parameters():
            param.requires_grad_(not (frozen and name.endswith("weight")))
        return super().train_step(ctx, batch)


class GlobalNoise(Strategy):
    def compute_loss(self, model: nn.Module, batch: Batch, ctx: StepContext) -> tuple[Tensor, dict[str, float]]:
        noisy = batch.lq + 0.1 * torch.randn(batch.lq.shape)
        return ctx.loss_fn(model(noisy), batch.target), {}


class Counting(Strategy):
    """Keeps a step counter of its own: a resumed run starts it from 0 again."""

    def __init__(self) -> None:
        self.calls = 0

    def compute_loss(self, model: nn.Module, batch: Batch, ctx: StepContext) -> tuple[Tensor, dict[str, float]]:
        self.calls += 1
        loss, logs = super().compute_loss(model, batch, ctx)
        return loss * self.calls, logs


class NoStep(Strategy):
    def train_step(self, ctx: StepContext, batch: Batch) -> dict[str, float]:
        with ctx.autocast():
            loss, _ = self.compute_loss(ctx.model, batch, ctx)
        return {"loss": float(loss.detach())}


class LossFree(Strategy):
    uses_loss = False


class FreezeThenTouch(Strategy):
    def prepare(self, model: nn.Module, stage: str) -> None:
        model.conv.bias.requires_grad_(False)

    def train_step(self, ctx: StepContext, batch: Batch) -> dict[str, float]:
        with torch.no_grad():
            ctx.model.conv.bias.add_(0.1)
        return super().train_step(ctx, batch)


class OpaqueExtra(Strategy):
    def evaluate_extra(self, model: nn.Module, pairs: list[Any], metrics: dict[str, Any],
                       ctx: StepContext) -> dict[str, Any]:
        return {"model": model}


def _registry(**strategies: Any) -> restorefw.Registry:
    registry = restorefw.Registry()
    for name, factory in strategies.items():
        registry.register("strategy", name, factory)
    return registry


def test_sound_strategies_pass(registry: restorefw.Registry) -> None:
    assert isinstance(check_strategy(_registry(warmup=WarmupThenFreeze), "warmup", warmup=1), WarmupThenFreeze)
    check_strategy(registry, "supervised")
    check_strategy(registry, "ddep", sigma=0.2, model_spec=UNET, steps=1)
    check_strategy(registry, "dep", sigma=0.2, model_spec=UNET, loss_spec="l1", steps=1)


BROKEN_STRATEGIES = {
    "global_rng": (GlobalNoise, "two runs from the same seed differ"),
    "own_state": (Counting, "resuming after step 2 from the model and optimizer state dicts does not continue"),
    "no_step": (NoStep, "changed no parameter: train_step must call ctx.backward_and_step"),
    "loss_free": (LossFree, "declares uses_loss = False but called ctx.loss_fn"),
    "frozen_touched": (FreezeThenTouch, r"parameters frozen by prepare\(\) changed: \['conv.bias'\]"),
    "opaque_extra": (OpaqueExtra, "not JSON-serialisable"),
    "not_a_strategy": (lambda: object(), "must return a restorefw.Strategy"),
}


@pytest.mark.parametrize(("factory", "message"), BROKEN_STRATEGIES.values(), ids=BROKEN_STRATEGIES.keys())
def test_broken_strategies_are_caught(factory: Any, message: str) -> None:
    with pytest.raises(ContractError, match=rf"^strategy 'broken': .*{message}"):
        check_strategy(_registry(broken=factory), "broken")


def test_ipt_heads_and_tails_pass_and_must_fit_each_other(registry: restorefw.Registry) -> None:
    head = check_head_tail(registry, "ipt.head", n_feats=16, partner={"type": "ipt.tail", "n_feats": 16})
    assert head.n_feats == 16
    check_head_tail(registry, "ipt.tail", n_feats=16, scale=2, partner={"type": "ipt.head", "n_feats": 16})
    with pytest.raises(ContractError, match=r"the head's features \(2, 16, 16, 16\) do not fit the tail"):
        check_head_tail(registry, "ipt.head", n_feats=16, partner={"type": "ipt.tail", "n_feats": 32})


class Strided(nn.Module):
    n_feats = 8

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class ClaimsScale2(nn.Module):
    scale = 2

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


@pytest.mark.parametrize(("part", "factory", "message"), [
    ("head", Strided, r"a head keeps batch and size: \(2, F, 16, 16\) expected"),
    ("tail", ClaimsScale2, r"a tail maps features \(2, 8, 16, 16\) to an image \(2, 3, 32, 32\) \(scale 2\)"),
])
def test_broken_heads_and_tails_are_caught(part: str, factory: Any, message: str) -> None:
    registry = restorefw.Registry()
    registry.register(part, "broken", factory, part=part)
    with pytest.raises(ContractError, match=rf"^{part} 'broken': {message}"):
        check_head_tail(registry, "broken")


def test_datasets_pass(registry: restorefw.Registry) -> None:
    check_dataset(registry, "skimage_samples", images=["camera", "coins"])
    check_dataset(registry, "synthetic_shapes", count=2, size=32)


class Unnamed:
    scale = 1
    names = ["a"]

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> Tensor:
        return torch.zeros(3, 8, 8)


class Bright(Unnamed):
    names = ["a", "b"]

    def __getitem__(self, i: int) -> Tensor:
        return torch.full((3, 8, 8), 2.0)


@pytest.mark.parametrize(("factory", "message"), [(Unnamed, "needs 'names': a list of 2 unique strings"),
                                                  (Bright, r"item 0 leaves \[0, 1\]")])
def test_broken_datasets_are_caught(factory: Any, message: str) -> None:
    registry = restorefw.Registry()
    registry.register("dataset", "broken", factory)
    with pytest.raises(ContractError, match=rf"^dataset 'broken': {message}"):
        check_dataset(registry, "broken")
