"""Profile cases: where the time of the Restormer forward and training step goes, op kind by op kind.

Each row's figure is the profiled call's total time; its reference is the floor, the
call's useful FLOPs at the fp32 matmul peak measured in the same run, so the ratio is the
fraction of that peak. ``top`` lists the kinds of work (``benchmarks._profile``) that take
the most time, with their share.
"""

from __future__ import annotations

from typing import Any

import torch

from benchmarks._cases_restormer import RESTORMER_TINY, restormer_gflop
from benchmarks._common import matmul_gflops, result_row
from benchmarks._profile import profile_summary

__all__ = ["case_profile"]


def case_profile(quick: bool, threads: int) -> list[dict[str, Any]]:
    """Per-op profiles: default Restormer 256² forward (plain ``model(x)``) and 128² training step, batch 1."""
    import restorefw

    peak = matmul_gflops(refresh=True)
    torch.manual_seed(0)
    config = RESTORMER_TINY if quick else {}
    model = restorefw.create("model", "restormer", **config)
    size = 64 if quick else 256
    x = torch.rand(1, 3, size, size)

    def forward() -> None:
        with torch.inference_mode():
            model.eval()(x)

    batch = torch.rand(1, 3, 128, 128)
    optimizer = restorefw.create("optimizer", "adamw", lr=1e-4)(model.parameters())

    def train_step() -> None:
        loss = (model.train()(batch) - batch).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    rows = []
    # A training step is about three forward passes of work: the forward, and the backward
    # pass's gradients with respect to the activations and to the weights.
    for case, fn, gflop in ((f"profile_restormer_forward_{size}", forward, restormer_gflop(size, config)),
                            ("profile_restormer_train_step_b1", train_step, 3 * restormer_gflop(128, config))):
        summary = profile_summary(fn)
        floor_ms = gflop / peak * 1e3
        rows.append(result_row(case, "ms", summary["total_ms"], floor_ms, top=summary["top"],
                               config="tiny" if quick else "default", gflop=round(gflop, 2),
                               matmul_peak_gflop_per_s=peak,
                               reference_is="useful FLOPs at the fp32 matmul peak (the ratio is the fraction)"))
    return rows
