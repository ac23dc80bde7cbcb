"""Time MZSR zero-shot adaptation on the CPU and print the result as JSON.

Measures adapting the paper's 225,091-parameter network to one 256x256 LR image
(x2, g^d_2.0) for one SGD step, then the full ``zero_shot_sr`` call (adaptation
plus the 512x512 output). Weights are random: the cost does not depend on them.

Usage: ``python benchmarks/mzsr_adapt.py [--size 256] [--steps 1] [--repeats 5] [--threads N]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from benchmarks._common import write_report
from restorefw_basic._kernels import isotropic_gaussian_kernel
from restorefw_mzsr._adapt import adapt, zero_shot_sr
from restorefw_mzsr._arch import MZSRNet, count_parameters


def _timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    fn()  # warm-up: first calls pay for allocator growth and kernel selection
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="side of the LR image")
    parser.add_argument("--steps", type=int, default=1, help="adaptation steps")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = MZSRNet(scale=2)
    image = torch.rand(3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    kernel = isotropic_gaussian_kernel(15, 2.0)
    adapt_times = _timed(lambda: adapt(model, image, kernel, steps=args.steps), args.repeats)
    total_times = _timed(lambda: zero_shot_sr(model, image, kernel, steps=args.steps), args.repeats)
    result = {
        "benchmark": "mzsr_adapt",
        "device": "cpu",
        "lr_size": [args.size, args.size],
        "scale": 2,
        "steps": args.steps,
        "parameters": count_parameters(model),
        "adapt_s_median": statistics.median(adapt_times),
        "adapt_s": adapt_times,
        "zero_shot_sr_s_median": statistics.median(total_times),
        "zero_shot_sr_s": total_times,
        "goal_adapt_s": 2.0,
        "interop_threads": torch.get_num_interop_threads(),
    }
    write_report(result)


if __name__ == "__main__":
    main()
