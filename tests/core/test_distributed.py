"""torchrun + DDP on CPU (gloo): two processes train one model; rank 0 alone writes the run folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RECIPE = """
[run]
name = "ddp"
device = "cpu"
threads = 1
[data]
train = { type = "skimage_samples", images = ["camera", "coffee"] }
val = { type = "skimage_samples", images = ["chelsea"] }
patch_size = 24
batch_size = 2
val_max_size = 32
[task]
type = "denoise"
[model]
type = "rescnn"
channels = 8
blocks = 1
[[stages]]
name = "s"
steps = 4
accumulate = 2
log_every = 2
"""


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path: Path) -> None:
    recipe = tmp_path / "ddp.toml"
    recipe.write_text(RECIPE)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
         "-m", "restorefw", "run", str(recipe), "--out", str(out), "--quiet"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["status"] == "complete"
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "loss" in r] == [2, 4]
    assert (out / "checkpoints/s-4.safetensors").is_file()


def test_strategy_without_ddp_support_is_refused(registry, tmp_path, monkeypatch):
    import tomllib

    from restorefw import RunError, resolve_recipe
    from restorefw.engine import DistInfo, Runner, Strategy

    monkeypatch.setattr(Strategy, "supports_distributed", False)
    runner = Runner(resolve_recipe(tomllib.loads(RECIPE), registry), registry, tmp_path / "r", quiet=True)
    runner.dist = DistInfo(rank=0, world_size=2)
    with pytest.raises(RunError, match="does not support torchrun/DDP"):
        runner._prepare_stage(0, None)
