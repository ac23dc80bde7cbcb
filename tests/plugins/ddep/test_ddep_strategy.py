"""The DDeP stage freezes the encoder exactly; the decoder learns; the residual is found."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from restorefw import RunError, Task
from restorefw.engine import Batch, StepContext
from restorefw_ddep import build_ddep, build_dep, probe_residual

TINY_RESTORMER = {"dim": 16, "num_blocks": [1, 1, 1, 1], "heads": [1, 2, 4, 8], "num_refinement_blocks": 1}
PARTS = {
    "restormer": ({"type": "restormer.encoder", **TINY_RESTORMER}, {"type": "restormer.decoder", **TINY_RESTORMER}),
    "unet": ({"type": "ddep.unet.encoder", "widths": [8, 16]}, {"type": "ddep.unet.decoder", "widths": [8, 16]}),
}


def build(registry, name: str, **decoder: object) -> nn.Module:
    encoder, dec = PARTS[name]
    torch.manual_seed(0)
    return registry.create("model", {"type": "encoder_decoder", "encoder": encoder, "decoder": {**dec, **decoder}})


def context(model: nn.Module, lr: float = 1e-3) -> StepContext:
    """What the runner builds: an optimizer over the parameters that still require gradients."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    return StepContext(model=model, loss_fn=nn.L1Loss(), optimizer=optimizer, scheduler=scheduler,
                       task=Task("denoise", lambda x, g: (x, x)), device=torch.device("cpu"), precision="fp32",
                       stage="ddep")


@pytest.mark.parametrize("name", ["restormer", "unet"])
def test_ddep_leaves_every_encoder_tensor_unchanged(registry, name: str) -> None:
    model = build(registry, name)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    strategy = build_ddep(sigma=0.22)
    strategy.prepare(model, "ddep")
    ctx = context(model)
    images = torch.rand(2, 3, 16, 16)
    for step in range(3):
        ctx.generator = torch.Generator().manual_seed(step)
        strategy.train_step(ctx, Batch(images, images))
    after = model.state_dict()
    encoder_keys = [k for k in before if k.startswith("encoder.")]
    assert encoder_keys and all(torch.equal(before[k], after[k]) for k in encoder_keys)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    encoder_params = {id(p) for p in model.encoder.parameters()}
    assert not encoder_params & {id(p) for p in ctx.trainable()}
    assert not encoder_params & {id(p) for p in ctx.optimizer.state}
    assert all(p.grad is None and not p.requires_grad for p in model.encoder.parameters())


def test_dep_trains_the_encoder_too(registry) -> None:
    model = build(registry, "unet")
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    strategy = build_dep(sigma=0.22)
    strategy.prepare(model, "dep")
    ctx = context(model)
    images = torch.rand(2, 3, 16, 16)
    strategy.train_step(ctx, Batch(images, images))
    assert any(not torch.equal(v, model.encoder.state_dict()[k]) for k, v in before.items())


def test_decoder_pretraining_loss_decreases_on_a_fixed_batch(registry) -> None:
    model = build(registry, "unet")
    strategy = build_ddep(sigma=0.22)
    strategy.prepare(model, "ddep")
    ctx = context(model, lr=3e-3)
    images = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    losses = []
    for _ in range(50):
        ctx.generator = torch.Generator().manual_seed(0)  # the same noise every step: a fixed batch
        losses.append(strategy.train_step(ctx, Batch(images, images))["loss"])
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5


def test_residual_is_read_or_probed(registry) -> None:
    image = torch.rand(1, 3, 16, 16)
    restormer = build(registry, "restormer")
    assert not hasattr(restormer.decoder, "global_residual")
    assert probe_residual(restormer.encoder, restormer.decoder, image)
    plain = build(registry, "unet", global_residual=False)
    assert not probe_residual(plain.encoder, plain.decoder, image)
    for model, expected in ((restormer, True), (plain, False), (build(registry, "unet"), True)):
        strategy = build_ddep(sigma=0.22)
        strategy.prepare(model, "ddep")
        strategy.predict_eps(model, image)
        assert strategy.residual is expected
    forced = build_ddep(sigma=0.22, residual=False)
    forced.prepare(restormer, "ddep")
    assert forced.residual is False


def test_models_the_strategies_cannot_use(registry) -> None:
    whole = registry.create("model", {"type": "rescnn", "channels": 8, "blocks": 1})
    with pytest.raises(RunError, match="ddep needs a model with 'encoder' and 'decoder'"):
        build_ddep(sigma=0.22).prepare(whole, "pre")
    with pytest.raises(RunError, match="set residual = true or false"):
        build_dep(sigma=0.22).prepare(whole, "pre")
    build_dep(sigma=0.22, residual=True).prepare(whole, "pre")
    upscaler = registry.create("model", {"type": "rescnn", "channels": 8, "blocks": 1, "scale": 2})
    with pytest.raises(RunError, match="scale 2"):
        build_dep(sigma=0.22, residual=True).prepare(upscaler, "pre")
    images = torch.rand(1, 3, 8, 8)
    with pytest.raises(RunError, match=r"\(1, 1, 8, 8\) for input \(1, 3, 8, 8\)"):
        build_dep(sigma=0.22, residual=False).compute_loss(lambda x: x[:, :1], Batch(images, images),
                                                           SimpleNamespace(generator=None, stage="pre"))
