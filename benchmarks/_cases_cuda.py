"""CUDA cases: Restormer training step and inference in bf16 and fp16 autocast against fp32, and quality.

Without a CUDA device each case returns one row with ``skipped`` set, so reports from CPU-only
machines say what was not measured.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch

from benchmarks._cases_precision import quality_rows
from benchmarks._cases_restormer import RESTORMER_TINY
from benchmarks._common import interleaved, result_row
from restorefw.engine import autocast

__all__ = ["case_cuda"]

_GOAL = "bf16 autocast training step >= 2x the fp32 eager step (images/s)"
_CASES = ("restormer_cuda_train_step", "restormer_cuda_forward", "restormer_cuda_train_step_fp16",
          "restormer_cuda_forward_fp16", "precision_quality_cuda")


def _synced(fn: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        fn()
        torch.cuda.synchronize()

    return run


def case_cuda(quick: bool, threads: int) -> list[dict[str, Any]]:
    """Default Restormer on CUDA, 128², batch 8 (tiny model, 64², batch 2 with ``--quick``); quality per model.

    restorefw's side is what a recipe with ``precision = "bf16"`` (or ``"fp16"``, with a gradient
    scaler) and ``channels_last = true`` runs; the reference is the same model and weights in
    fp32, contiguous, no autocast.
    """
    if not torch.cuda.is_available():
        return [result_row(name, "images/s", float("nan"), float("nan"), lower_is_better=False,
                           goal=_GOAL if name == "restormer_cuda_train_step" else None, skipped="no CUDA device")
                for name in _CASES]
    import restorefw

    device = torch.device("cuda")
    batch, size, config = (2, 64, RESTORMER_TINY) if quick else (8, 128, {})
    torch.manual_seed(0)
    fp32 = restorefw.create("model", "restormer", **config).to(device)
    low = {p: copy.deepcopy(fp32).to(memory_format=torch.channels_last) for p in ("bf16", "fp16")}
    x = torch.rand(batch, 3, size, size, device=device)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    opts = {m: torch.optim.AdamW(m.parameters(), lr=1e-4) for m in (fp32, *low.values())}
    scaler = torch.amp.GradScaler("cuda")

    def step(model: torch.nn.Module, precision: str, inp: torch.Tensor) -> None:
        with autocast(device, precision):
            loss = (model(inp).float() - inp).abs().mean()
        opts[model].zero_grad(set_to_none=True)
        if precision == "fp16":
            scaler.scale(loss).backward()
            scaler.step(opts[model])
            scaler.update()
        else:
            loss.backward()
            opts[model].step()

    def infer(model: torch.nn.Module, precision: str, inp: torch.Tensor) -> None:
        with autocast(device, precision):
            model(inp)

    repeats = 3 if quick else 10
    train = interleaved({"fp32": _synced(lambda: step(fp32, "fp32", x)),
                         **{p: _synced(lambda p=p: step(low[p], p, x_cl)) for p in low}}, repeats)
    with torch.inference_mode():
        diffs = {p: (_output(low[p].eval(), p, x_cl) - fp32.eval()(x)).abs().max().item() for p in low}
        forward = interleaved({"fp32": _synced(lambda: infer(fp32, "fp32", x)),
                               **{p: _synced(lambda p=p: infer(low[p], p, x_cl)) for p in low}}, repeats)
    common = {"batch": batch, "size": size, "config": "tiny" if quick else "default",
              "device": torch.cuda.get_device_name(0)}
    rate = {k: batch / v for k, v in train.items()}
    rows = []
    for p, suffix in (("bf16", ""), ("fp16", "_fp16")):
        goal = _GOAL if p == "bf16" else None
        rows += [
            result_row(f"restormer_cuda_train_step{suffix}", "images/s", rate[p], rate["fp32"], lower_is_better=False,
                       goal=goal, goal_met=rate[p] >= 2 * rate["fp32"] if goal else None, precision=p, **common),
            result_row(f"restormer_cuda_forward{suffix}", "images/s", batch / forward[p], batch / forward["fp32"],
                       lower_is_better=False, precision=p, max_abs_diff=diffs[p], **common),
        ]
    return rows + quality_rows(quick, ["bf16", "fp16"], device)


def _output(model: torch.nn.Module, precision: str, inp: torch.Tensor) -> torch.Tensor:
    """The model's output under ``precision``, in fp32."""
    with autocast(inp.device, precision):
        return model(inp).float()
