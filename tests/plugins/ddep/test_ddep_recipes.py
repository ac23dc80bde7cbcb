"""The DeP / DDeP recipes: validation, part mismatches, and a shrunken three-stage run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from restorefw import load_recipe, resolve_recipe
from restorefw.cli import cli
from restorefw.engine import Runner

RECIPES = Path(__file__).resolve().parents[3] / "recipes"
SHRINK = ["data.patch_size=16", "data.batch_size=2", "data.val_max_size=32", "eval.samples=0"]


@pytest.mark.parametrize("name", ["ddep_restormer.toml", "dep_unet.toml"])
def test_recipes_validate(name: str) -> None:
    result = CliRunner().invoke(cli, ["validate", str(RECIPES / name)])
    assert result.exit_code == 0, result.output


def test_incompatible_parts_fail_validation_naming_both(tmp_path: Path) -> None:
    recipe = (RECIPES / "ddep_restormer.toml").read_text(encoding="utf-8")
    start = recipe.index('decoder = { type = "restormer.decoder"')
    end = recipe.index("\n", start)
    bad = recipe[:start] + 'decoder = { type = "ddep.unet.decoder", widths = [16, 32, 48, 64] }' + recipe[end:]
    (tmp_path / "bad.toml").write_text(bad, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "bad.toml")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert "RestormerEncoder" in lines[0] and "UNetDecoder" in lines[0]
    assert "[16, 32, 64, 128]" in lines[0] and "[16, 32, 48, 64]" in lines[0]


def test_missing_noise_level_fails_validation(tmp_path: Path) -> None:
    text = (RECIPES / "dep_unet.toml").read_text(encoding="utf-8").replace('type = "dep", sigma = 0.22', 'type = "dep"')
    (tmp_path / "nosigma.toml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "nosigma.toml")])
    assert result.exit_code == 2 and "stages[0].strategy" in result.output and "sigma is required" in result.output


def test_three_stage_run_keeps_the_encoder_in_the_ddep_stage(registry, tmp_path: Path) -> None:
    overrides = SHRINK + [f"stages[{i}].steps=2" for i in range(3)]
    recipe = resolve_recipe(load_recipe(RECIPES / "ddep_restormer.toml", overrides), registry)
    recipe["stages"][1]["strategy"]["images"]["images"] = ["camera", "coins"]
    out = tmp_path / "run"
    Runner(recipe, registry, out, quiet=True).run()
    start, end = load_file(str(out / "checkpoints/supervised-2.safetensors")), load_file(
        str(out / "checkpoints/ddep-2.safetensors"))
    encoder = [k for k in start if k.startswith("encoder.")]
    assert encoder and all(torch.equal(start[k], end[k]) for k in encoder)
    assert any(not torch.equal(start[k], end[k]) for k in start if k.startswith("decoder."))
    final = load_file(str(out / "checkpoints/finetune-2.safetensors"))
    assert any(not torch.equal(end[k], final[k]) for k in encoder)  # fine-tuning trains the encoder again
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["stages"]) == {"supervised", "ddep", "finetune"}
    assert all("psnr" in stage["val"] for stage in summary["stages"].values())
    extra = summary["stages"]["ddep"]["strategy_eval"]
    assert extra["residual"] is True and extra["sigma"] == 0.22 and 0 < extra["eps_mse"] < 10
