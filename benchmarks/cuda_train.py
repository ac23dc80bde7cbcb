"""Restormer training and inference on CUDA: every precision × layout × compile choice a recipe can make.

Usage: ``python -m benchmarks.cuda_train [--batch 8] [--size 128] [--steps 10] [--no-compile] [--profile]``.
Prints one JSON document: images/s of a training step (AdamW, L1, the engine's autocast) and of an
inference forward for each configuration, each against the fp32 eager contiguous reference measured in
the same process, and with ``--profile`` the CUDA kernels that take most of a bf16 training step.
Compiled rows include no compile time (warm-up steps compile first). Without CUDA it reports ``skipped``.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable
from typing import Any

import torch

from benchmarks._common import environment

__all__ = ["CONFIGS", "main"]

CONFIGS: list[tuple[str, bool, bool]] = [
    ("fp32", False, False),
    ("fp32", True, False),
    ("bf16", False, False),
    ("bf16", True, False),
    ("fp16", True, False),
    ("bf16", False, True),
    ("bf16", True, True),
]
"""(precision, channels_last, compile); the first is the reference."""


def _rate(step: Callable[[], Any], images: int, steps: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return images * steps / (time.perf_counter() - start)


def _measure(base: torch.nn.Module, x: torch.Tensor, precision: str, channels_last: bool, compiled: bool,
             steps: int) -> dict[str, Any]:
    from restorefw.engine import autocast

    device = x.device
    model = copy.deepcopy(base)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    run = torch.compile(model) if compiled else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    def train() -> None:
        with autocast(device, precision):
            loss = (run(x).float() - x).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()

    def infer() -> None:
        with torch.inference_mode(), autocast(device, precision):
            run(x)

    warmup = 3 if compiled else 2
    row: dict[str, Any] = {"precision": precision, "channels_last": channels_last, "compile": compiled}
    try:
        start = time.perf_counter()
        train()
        torch.cuda.synchronize()
        row["first_step_s"] = round(time.perf_counter() - start, 2)
        row["train_images_per_s"] = _rate(train, x.shape[0], steps, warmup)
        model.eval()
        row["infer_images_per_s"] = _rate(infer, x.shape[0], steps, warmup)
        row["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    except Exception as exc:  # one failing configuration must not hide the others
        row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
    return row


def _profile(base: torch.nn.Module, x: torch.Tensor, channels_last: bool) -> list[dict[str, Any]]:
    """The CUDA kernels of three bf16 eager training steps, most time first."""
    from torch.profiler import ProfilerActivity, profile

    from restorefw.engine import autocast

    model = copy.deepcopy(base)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def train() -> None:
        with autocast(x.device, "bf16"):
            loss = (model(x).float() - x).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    train()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(3):
            train()
        torch.cuda.synchronize()
    events = prof.key_averages()
    total = sum(e.self_device_time_total for e in events) or 1.0
    rows = sorted(events, key=lambda e: e.self_device_time_total, reverse=True)[:20]
    launches = sum(e.count for e in events if e.self_device_time_total > 0)
    return [{"kernel": e.key[:90], "share": round(e.self_device_time_total / total, 4), "calls": e.count,
             "launches_per_step": launches // 3} for e in rows]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"suite": "cuda_train", "batch": args.batch, "size": args.size,
                              "environment": environment()}
    if not torch.cuda.is_available():
        report["skipped"] = "no CUDA device"
        print(json.dumps(report, indent=2))
        return report
    import restorefw

    torch.manual_seed(0)
    base = restorefw.create("model", "restormer").cuda()
    x = torch.rand(args.batch, 3, args.size, args.size, device="cuda")
    rows = []
    for precision, channels_last, compiled in CONFIGS:
        if not (compiled and args.no_compile):
            rows.append(_measure(base, x, precision, channels_last, compiled, args.steps))
            torch.cuda.empty_cache()  # each configuration's peak is its own
            torch.cuda.reset_peak_memory_stats()
    ref = rows[0]
    for row in rows:
        for key in ("train_images_per_s", "infer_images_per_s"):
            if key in row and key in ref:
                row[key.replace("images_per_s", "speedup")] = round(row[key] / ref[key], 2)
    report["rows"] = rows
    report["tf32"] = {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32}
    if args.profile:
        report["profile_bf16_channels_last"] = _profile(base, x, True)
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
