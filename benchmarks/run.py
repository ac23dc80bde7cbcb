"""The benchmark suite: restorefw against a reference in the same run, printed as one JSON document.

Usage: ``python -m benchmarks.run [--quick] [--only restormer_forward,cli,...] [--threads 2]``.

Every case reports the restorefw figure, the reference figure and their ratio (> 1 means restorefw is
better), so numbers from shared, noisy machines stay comparable. Timings interleave the two sides and
take medians. The Restormer reference is the same model built with the plain-torch reference ops
(``restorefw.ops.use("reference")``) and the same weights; outputs must agree within 1e-4 first.
Where the performance issue states a goal, a row says it (``goal``) and whether it is met (``goal_met``);
elsewhere both are ``None``. Each row also records the 1-minute load average when it was measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from benchmarks._cases_cuda import case_cuda
from benchmarks._cases_misc import case_cli, case_data_pipeline
from benchmarks._cases_ops import case_matmul_peak, case_ops
from benchmarks._cases_plugins import case_ipt_chop, case_mzsr_adapt
from benchmarks._cases_precision import case_precision
from benchmarks._cases_profile import case_profile
from benchmarks._cases_restormer import case_restormer_forward, case_restormer_train_step, case_tiled
from benchmarks._common import environment, load_average, matmul_gflops
from benchmarks.report_md import summary_lines

__all__ = ["CASES", "main"]

CASES: dict[str, Callable[[bool, int], list[dict[str, Any]]]] = {
    "matmul_peak": case_matmul_peak,
    "ops": case_ops,
    "restormer_forward": case_restormer_forward,
    "restormer_train_step": case_restormer_train_step,
    "precision": case_precision,
    "profile": case_profile,
    "tiled": case_tiled,
    "ipt_chop": case_ipt_chop,
    "mzsr_adapt": case_mzsr_adapt,
    "data_pipeline": case_data_pipeline,
    "cli": case_cli,
    "cuda": case_cuda,
}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the chosen cases, print the report as JSON and return it."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat (a smoke run)")
    parser.add_argument("--only", help="comma-separated case names: " + ", ".join(CASES))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(CASES)
    unknown = sorted(set(names) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    torch.set_num_threads(args.threads)
    from restorefw._malloc import tune_malloc

    # The CLI tunes malloc at start-up; the suite measures the same configuration.
    malloc = tune_malloc()
    load_start, start = load_average(), time.perf_counter()
    results, durations = [], {}
    for name in names:
        case_start = time.perf_counter()
        results += CASES[name](args.quick, args.threads)
        durations[name] = round(time.perf_counter() - case_start, 1)
        # Progress on stderr: a full run takes many minutes and stdout carries only the final JSON.
        print(f"{name}: {durations[name]} s, load {load_average()}", file=sys.stderr, flush=True)
    env = environment()
    env.update(malloc_tuning=malloc, load_average_start=load_start, load_average_end=env.pop("load_average"),
               seconds=round(time.perf_counter() - start, 1), case_seconds=durations)
    if {"matmul_peak", "restormer_forward", "profile"} & set(names):
        env["matmul_peak_gflop_per_s"] = matmul_gflops()
    report = {"suite": "restorefw", "quick": args.quick, "results": results, "environment": env}
    print(json.dumps(report, indent=2))
    print("\n".join(summary_lines(report)), file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
