"""Cases outside the models: the on-the-fly data pipeline and command-line start-up."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any

import torch

from benchmarks._cases_restormer import RESTORMER_TINY
from benchmarks._common import interleaved, result_row

__all__ = ["case_cli", "case_data_pipeline"]


def case_data_pipeline(quick: bool, threads: int) -> list[dict[str, Any]]:
    """Patches/s of on-the-fly degradation against the patches/s a tiny Restormer training step consumes."""
    import restorefw
    from restorefw.data import SkimageSamples, sample_batch

    dataset, batch, patch = SkimageSamples(["astronaut", "coffee", "rocket"]), 8, 64
    model = restorefw.create("model", "restormer", **RESTORMER_TINY)
    opt = torch.optim.AdamW(model.parameters())
    x = torch.rand(batch, 3, patch, patch)

    def train_step() -> None:
        loss = (model(x) - x).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    consume = interleaved({"step": train_step}, 1 if quick else 3)["step"]
    rows = []
    for name, spec in {"sr_x2_bicubic": {"type": "sr", "scale": 2}, "noise": "denoise", "blur": "deblur",
                       "rain": "derain"}.items():
        task = restorefw.create("task", spec)
        generator = torch.Generator().manual_seed(0)

        def produce(task: Any = task, generator: torch.Generator = generator) -> None:
            task.degradation(sample_batch(dataset, batch, patch, generator), generator)

        seconds = interleaved({"produce": produce}, 2 if quick else 5)["produce"]
        rows.append(result_row(f"data_{name}", "patches/s", batch / seconds, batch / consume, lower_is_better=False,
                               reference_is="patches/s consumed by a tiny Restormer training step (batch 8, 64²)"))
    return rows


# Start-up goals of the issue, in seconds: the help must feel instant, listing plugins imports them all.
_CLI_GOALS = {"help": 0.3, "plugins": 3.0}


def case_cli(quick: bool, threads: int) -> list[dict[str, Any]]:
    """Start-up of ``restorefw --help`` and ``restorefw plugins`` against ``import torch``."""

    def wall(args: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], capture_output=True, check=True)
        return time.perf_counter() - start

    repeats = 1 if quick else 3
    torch_import = statistics.median(wall(["-c", "import torch"]) for _ in range(repeats))
    rows = []
    for name, args in {"help": ["-m", "restorefw", "--help"], "plugins": ["-m", "restorefw", "plugins"]}.items():
        seconds = statistics.median(wall(args) for _ in range(repeats))
        goal = _CLI_GOALS[name]
        rows.append(result_row(f"cli_{name}", "s", seconds, torch_import, goal=f"< {goal} s",
                               goal_met=seconds < goal, reference_is="python -c 'import torch'"))
    return rows
