"""The MZSR recipes: validation, and a shrunken end-to-end run of the mini recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from restorefw.cli import cli

RECIPES = Path(__file__).resolve().parents[3] / "recipes"


@pytest.mark.parametrize("name", ["mzsr_mini.toml", "mzsr_full.toml"])
def test_recipes_validate(name: str) -> None:
    result = CliRunner().invoke(cli, ["validate", str(RECIPES / name)])
    assert result.exit_code == 0, result.output


def test_mini_recipe_reports_adaptation_psnr(tmp_path: Path) -> None:
    overrides = [
        "model.channels=8", "model.layers=3", "data.val_max_size=48", "data.batch_size=8",
        "stages[0].steps=2", "stages[1].steps=2", "stages[1].strategy.eval_adapt_steps=[0, 1, 2]",
    ]
    args = ["run", str(RECIPES / "mzsr_mini.toml"), "--out", str(tmp_path / "run"), "--quiet"]
    result = CliRunner().invoke(cli, args + [a for o in overrides for a in ("--set", o)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    extra = summary["stages"]["meta"]["strategy_eval"]
    assert extra["downsample"] == "direct" and extra["steps"] == [0, 1, 2]
    assert [r["image"] for r in extra["per_image"]] == ["camera", "chelsea", "coffee"]
    for record in extra["per_image"]:
        for key in ("psnr_bicubic", "psnr_adapt_0", "psnr_adapt_1", "psnr_adapt_2"):
            assert 10 < record[key] < 60
    assert set(extra["gain_over_0"]) == {"1", "2"}
