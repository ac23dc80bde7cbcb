"""The strategies and the DeP → segmentation recipe, shrunk to a two-step run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import restorefw_segmentation
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import restorefw
from restorefw.cli import cli
from restorefw.engine import Batch, Runner, StepContext
from restorefw.testing import registry_with

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "ddep_segmentation.toml"
UNET = {"type": "encoder_decoder", "encoder": {"type": "ddep.unet.encoder", "widths": [8, 16]},
        "decoder": {"type": "ddep.unet.decoder", "widths": [8, 16]}}


@pytest.fixture(scope="module")
def registry() -> restorefw.Registry:
    return registry_with(restorefw_segmentation, load_entrypoints=True, only=["basic", "ddep"])


def _context(registry: restorefw.Registry, model: torch.nn.Module, task: restorefw.Task) -> StepContext:
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=1e-2)
    return StepContext(model=model, loss_fn=registry.create("loss", "cross_entropy"), optimizer=optimizer,
                       scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0), task=task,
                       device=torch.device("cpu"), precision="fp32", stage="test",
                       generator=torch.Generator().manual_seed(0))


def test_backbone_strategy_trains_the_backbone_only(registry: restorefw.Registry) -> None:
    model = registry.create("model", "segmenter", backbone=UNET)
    strategy = registry.create("strategy", "segmentation.backbone", strategy={"type": "dep", "sigma": 0.22})
    assert strategy.uses_loss is False and strategy.supports_distributed is False
    strategy.prepare(model, "test")
    assert not any(p.requires_grad for p in model.head.parameters())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images = torch.rand(2, 3, 16, 16)
    logs = strategy.train_step(_context(registry, model, registry.create("task", "segmentation")),
                               Batch(images, images))
    after = model.state_dict()
    assert logs["loss"] > 0
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("head."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("backbone."))
    assert strategy.model_spec({"type": "segmenter", "backbone": UNET})["backbone"] == UNET


def test_backbone_strategy_needs_a_segmenter(registry: restorefw.Registry) -> None:
    strategy = registry.create("strategy", "segmentation.backbone", strategy={"type": "dep", "sigma": 0.22})
    with pytest.raises(restorefw.RunError, match="'backbone' part"):
        strategy.prepare(registry.create("model", UNET), "pretrain")


def test_segmentation_strategy_loss_and_held_out_miou(registry: restorefw.Registry) -> None:
    model = registry.create("model", "segmenter", backbone=UNET, classes=3)
    strategy = registry.create("strategy", "segmentation", val_count=3, val_size=16)
    ctx = _context(registry, model, registry.create("task", "segmentation", classes=3))
    images, masks = registry.create("dataset", "synthetic_shapes", count=2, size=16, classes=3).batch()
    logs = strategy.train_step(ctx, Batch(images, masks))
    assert logs["loss"] > 0 and 0 <= logs["pixel_accuracy"] <= 1
    extra = strategy.evaluate_extra(model, [], {}, ctx)
    assert set(extra["per_class_iou"]) == {"background", "circle", "square"}
    assert 0 <= extra["miou"] <= 1 and 0 <= extra["pixel_accuracy"] <= 1 and extra["val_count"] == 3
    with pytest.raises(restorefw.RunError, match="task has 4 classes"):
        strategy.compute_loss(model, Batch(images, masks), _context(registry, model,
                                                                      registry.create("task", "segmentation")))
    with pytest.raises(restorefw.RunError, match="needs the segmentation task"):
        strategy.compute_loss(model, Batch(images, masks), _context(registry, model,
                                                                      registry.create("task", "denoise")))


def test_recipe_validates() -> None:
    result = CliRunner().invoke(cli, ["validate", str(RECIPE)])
    assert result.exit_code == 0, result.output


def test_two_step_run_reports_miou(registry: restorefw.Registry, tmp_path: Path) -> None:
    overrides = ["data.patch_size=16", "data.batch_size=2", "data.val_max_size=32", "stages[0].steps=2",
                 "stages[1].steps=2", "stages[1].patch_size=32", "stages[1].train.size=32",
                 "stages[1].train.count=2", "stages[1].strategy.val_count=2", "stages[1].strategy.val_size=32"]
    recipe = restorefw.resolve_recipe(restorefw.load_recipe(RECIPE, overrides), registry)
    recipe["data"]["train"]["images"] = ["camera", "coins"]
    recipe["model"]["backbone"]["encoder"]["widths"] = recipe["model"]["backbone"]["decoder"]["widths"] = [8, 16]
    out = tmp_path / "run"
    Runner(recipe, registry, out, quiet=True).run()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert 0 < summary["stages"]["dep"]["strategy_eval"]["eps_mse"] < 10
    extra = summary["stages"]["segment"]["strategy_eval"]
    assert 0 <= extra["miou"] <= 1 and extra["val_count"] == 2 and len(extra["per_class_iou"]) == 4
    dep, segment = (load_file(str(out / f"checkpoints/{name}-2.safetensors")) for name in ("dep", "segment"))
    assert any(not torch.equal(dep[k], segment[k]) for k in dep if k.startswith("head."))
