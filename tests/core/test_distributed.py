"""torchrun + DDP on CPU (gloo): two processes train one model; rank 0 alone writes the run folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

from restorefw.testing import tiny_recipe

RECIPE_DICT = tiny_recipe(
    "ddp", run={"threads": 1}, data={"train": {"type": "skimage_samples", "images": ["camera", "coffee"]},
                                     "val": {"type": "skimage_samples", "images": ["chelsea"]}, "val_max_size": 32},
    stages=[{"name": "s", "steps": 4, "accumulate": 2, "log_every": 2}])
RECIPE = tomli_w.dumps(RECIPE_DICT)


def _torchrun(recipe: Path, out: Path, nproc: int, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
         "-m", "restorefw", "run", str(recipe), "--out", str(out), "--quiet", *extra],
        capture_output=True, text=True, env=env, timeout=300,
    )


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path: Path) -> None:
    recipe = tmp_path / "ddp.toml"
    recipe.write_text(RECIPE)
    out = tmp_path / "run"
    result = _torchrun(recipe, out, 2)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["status"] == "complete"
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "loss" in r] == [2, 4]
    assert (out / "checkpoints/s-4.safetensors").is_file()


@pytest.mark.slow
def test_two_processes_with_batch_b_equal_one_process_with_batch_2b(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    recipe = tmp_path / "sgd.toml"
    data = {k: v for k, v in RECIPE_DICT["data"].items() if k != "val"}
    stages = [{"name": "s", "steps": 4, "optimizer": {"type": "sgd", "lr": 0.05}, "log_every": 2}]
    recipe.write_text(tomli_w.dumps({**RECIPE_DICT, "data": data, "stages": stages}))
    two = _torchrun(recipe, tmp_path / "two", 2)
    assert two.returncode == 0, two.stderr[-3000:]
    one = _torchrun(recipe, tmp_path / "one", 1, "--set", "data.batch_size=4")
    assert one.returncode == 0, one.stderr[-3000:]
    a = load_file(str(tmp_path / "two/checkpoints/last.safetensors"))
    b = load_file(str(tmp_path / "one/checkpoints/last.safetensors"))
    assert all((a[k] - b[k]).abs().max().item() <= 1e-5 for k in a)
    import restorefw

    torch.manual_seed(0)  # the recipe's seed: the runner builds the model right after seeding
    start = restorefw.create("model", "rescnn", channels=8, blocks=1).state_dict()
    assert any(not torch.equal(a[k], start[k]) for k in a), "training did not move the weights"
    written = sorted(p.name for p in (tmp_path / "two").iterdir())
    assert written == [".restorefw-run", ".restorefw-run.lock", "checkpoints", "logs", "metrics.jsonl", "plots",
                       "recipe.resolved.toml", "summary.json"]
    assert len((tmp_path / "two/metrics.jsonl").read_text().splitlines()) == 2


def test_strategy_without_ddp_support_is_refused(registry, tmp_path, monkeypatch):
    from restorefw import RunError, resolve_recipe
    from restorefw.engine import DistInfo, Runner, Strategy

    monkeypatch.setattr(Strategy, "supports_distributed", False)
    runner = Runner(resolve_recipe(RECIPE_DICT, registry), registry, tmp_path / "r", quiet=True)
    runner.dist = DistInfo(rank=0, world_size=2)
    with pytest.raises(RunError, match="does not support torchrun/DDP"):
        runner._prepare_stage(0, None)
