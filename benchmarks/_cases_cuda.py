"""CUDA cases: Restormer training step and inference, bf16 autocast + channels-last against fp32 eager.

Without a CUDA device each case returns one row with ``skipped`` set, so reports from CPU-only
machines say what was not measured.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch

from benchmarks._cases_restormer import RESTORMER_TINY
from benchmarks._common import interleaved, result_row

__all__ = ["case_cuda"]

_GOAL = "bf16 autocast training step >= 2x the fp32 eager step (images/s)"


def _synced(fn: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        fn()
        torch.cuda.synchronize()

    return run


def case_cuda(quick: bool, threads: int) -> list[dict[str, Any]]:
    """Default Restormer on CUDA, 128², batch 8 (tiny model, 64², batch 2 with ``--quick``).

    restorefw's side is what a recipe with ``precision = "bf16"`` and ``channels_last = true``
    runs; the reference is the same model and weights in fp32, contiguous, no autocast.
    """
    if not torch.cuda.is_available():
        return [result_row(name, "images/s", float("nan"), float("nan"), lower_is_better=False,
                           goal=_GOAL if name.endswith("train_step") else None, skipped="no CUDA device")
                for name in ("restormer_cuda_train_step", "restormer_cuda_forward")]
    import restorefw
    from restorefw.engine import autocast

    device = torch.device("cuda")
    batch, size, config = (2, 64, RESTORMER_TINY) if quick else (8, 128, {})
    torch.manual_seed(0)
    fp32 = restorefw.create("model", "restormer", **config).to(device)
    bf16 = copy.deepcopy(fp32).to(memory_format=torch.channels_last)
    x = torch.rand(batch, 3, size, size, device=device)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    opts = {m: torch.optim.AdamW(m.parameters(), lr=1e-4) for m in (fp32, bf16)}

    def step(model: torch.nn.Module, precision: str, inp: torch.Tensor) -> None:
        with autocast(device, precision):
            loss = (model(inp).float() - inp).abs().mean()
        opts[model].zero_grad(set_to_none=True)
        loss.backward()
        opts[model].step()

    repeats = 3 if quick else 10
    train = interleaved({"restorefw": _synced(lambda: step(bf16, "bf16", x_cl)),
                         "reference": _synced(lambda: step(fp32, "fp32", x))}, repeats)
    with torch.inference_mode():
        diff = (bf16.eval()(x_cl).float() - fp32.eval()(x)).abs().max().item()

        def infer(model: torch.nn.Module, precision: str, inp: torch.Tensor) -> None:
            with autocast(device, precision):
                model(inp)

        forward = interleaved({"restorefw": _synced(lambda: infer(bf16, "bf16", x_cl)),
                               "reference": _synced(lambda: infer(fp32, "fp32", x))}, repeats)
    common = {"batch": batch, "size": size, "config": "tiny" if quick else "default",
              "device": torch.cuda.get_device_name(0)}
    train_rate = {k: batch / v for k, v in train.items()}
    return [
        result_row("restormer_cuda_train_step", "images/s", train_rate["restorefw"], train_rate["reference"],
                   lower_is_better=False, goal=_GOAL, goal_met=train_rate["restorefw"] >= 2 * train_rate["reference"],
                   **common),
        result_row("restormer_cuda_forward", "images/s", batch / forward["restorefw"], batch / forward["reference"],
                   lower_is_better=False, max_abs_diff_bf16=diff, **common),
    ]
