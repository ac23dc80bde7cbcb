"""IPT training through the engine: multi-task pretraining (with the contrastive term), then
fine-tuning that drops the other tasks; the recipes validate."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from restorefw import ConfigError
from restorefw._builder import load_model
from restorefw.cli import cli
from restorefw.data import write_image
from restorefw.weights import read_metadata, read_state_dict
from restorefw_ipt import IPT, IPTConfig, IPTFinetune, IPTMultitask

RECIPES = Path(__file__).resolve().parents[3] / "recipes"
SHRINK = [
    "model.n_feats=8", "model.patch_size=12", "model.num_layers=1", "model.num_heads=2", "data.patch_size=24",
    "data.batch_size=4", "data.val_max_size=32", "stages[0].steps=3", "stages[1].steps=2",
    "stages[1].patch_size=12", "stages[0].strategy.contrastive=true",
]


@pytest.mark.parametrize("name", ["ipt_tiny.toml", "ipt_full.toml"])
def test_recipes_validate(name: str) -> None:
    result = CliRunner().invoke(cli, ["validate", str(RECIPES / name)])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ipt") / "run"
    args = ["run", str(RECIPES / "ipt_tiny.toml"), "--out", str(out), "--quiet"]
    result = CliRunner().invoke(cli, args + [a for o in SHRINK for a in ("--set", o)])
    assert result.exit_code == 0, result.output
    return out


def test_pretraining_logs_a_finite_contrastive_term_and_scores_every_task(run_dir: Path) -> None:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    pretrain = [r for r in records if r["stage"] == "pretrain" and "loss" in r]
    assert pretrain and all(math.isfinite(r["loss"]) and math.isfinite(r["contrastive"]) for r in pretrain)
    assert all(r["loss"] > r["pixel_loss"] for r in pretrain)
    summary = json.loads((run_dir / "summary.json").read_text())
    per_task = summary["stages"]["pretrain"]["strategy_eval"]["per_task"]
    assert list(per_task) == ["0:sr_x2", "1:denoise", "2:denoise", "3:derain"]
    for scores in per_task.values():  # three steps of training: only the bookkeeping is checked
        assert set(scores) == {"psnr", "ssim", "input_psnr", "input_ssim"}
        assert all(math.isfinite(v) for v in scores.values())


def test_finetuned_checkpoint_holds_only_the_kept_task(run_dir: Path) -> None:
    pretrained = read_state_dict(run_dir / "checkpoints" / "pretrain-3.safetensors")
    assert {k.split(".")[1] for k in pretrained if k.startswith("head.")} == {"0", "1", "2", "3"}
    state = read_state_dict(run_dir / "checkpoints" / "last.safetensors")
    assert {k.split(".")[1] for k in state if k.startswith(("head.", "tail."))} == {"0"}
    assert state["body.query_embed.weight"].shape[0] == 1
    # The kept task is pretraining task 2; the body was fine-tuned from the pretrained one.
    assert state["body.query_embed.weight"].shape == pretrained["body.query_embed.weight"][2:3].shape
    assert state["head.0.0.weight"].shape == pretrained["head.2.0.weight"].shape


def test_finetuned_checkpoint_loads_for_inference_without_the_other_tasks(run_dir: Path, tmp_path: Path,
                                                                          registry) -> None:
    ckpt = run_dir / "checkpoints" / "last.safetensors"
    spec = read_metadata(ckpt)["model"]
    assert spec["scales"] == [1] and spec["num_queries"] == 1 and spec["task"] == 0
    model, _ = load_model(str(ckpt), registry)
    assert model.num_tasks == 1
    write_image(tmp_path / "in" / "photo.png", torch.rand(3, 29, 40))
    result = CliRunner().invoke(cli, ["restore", "--checkpoint", str(ckpt), str(tmp_path / "in"),
                                      "--out", str(tmp_path / "out"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "(40x29)" in result.output


def test_strategies_check_the_model() -> None:
    model = IPT(IPTConfig(n_feats=8, patch_size=12, num_heads=2, num_layers=1, scales=[2, 1]))
    with pytest.raises(ConfigError, match="keep_task 2 but the model has 2 tasks"):
        IPTFinetune(keep_task=2).prepare(model, "finetune")
    from restorefw import create

    sigma = create("task", "denoise", sigma=30)
    with pytest.raises(ConfigError, match="task 0 \\(denoise\\) has scale 1, the model's task 0 has scale 2"):
        IPTMultitask([sigma, sigma]).prepare(model, "pretrain")
    IPTFinetune(keep_task=1).prepare(model, "finetune")
    assert model.scales == [1]
    IPTFinetune(keep_task=1).prepare(model, "finetune")  # a single-task model is left alone (resume)
    assert model.scales == [1]
