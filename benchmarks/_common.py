"""Shared helpers for benchmark scripts: environment facts, interleaved timing, result rows."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "PEAK_RSS", "environment", "interleaved", "interleaved_stats", "load_average", "matmul_gflops", "result_row",
    "run_isolated", "write_report",
]

# Pasted into scripts that `run_isolated` runs. VmHWM belongs to the script's own address space,
# while ru_maxrss carries the parent's peak over fork + exec.
PEAK_RSS = """
import resource
def peak_rss_mb():
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

_ALLOCATOR_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "LD_PRELOAD", "PYTORCH_CUDA_ALLOC_CONF")


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (other users' jobs skew absolute timings), if known."""
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None


def environment() -> dict[str, Any]:
    """Versions, CPU model and ISA flags, threads, device, load and allocator settings of the numbers.

    The ISA flags (AVX-512, its bf16 and fp16 extensions, AMX) decide how fast each precision
    runs, so figures from machines that differ in them are not comparable.
    """
    import torch

    from restorefw.engine import cpu_isa

    isa = cpu_isa()
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_model": isa.model,
        "isa": {**isa.as_dict(), "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()},
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average": load_average(),
        "allocator": {k: os.environ.get(k) for k in _ALLOCATOR_VARS},
    }


def write_report(report: dict[str, Any], out: Path | None = None) -> None:
    """Print ``report`` as JSON with the :func:`environment` of its numbers, and write it to ``out`` if given."""
    text = json.dumps({**report, "environment": environment()}, indent=2)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    print(text)


def run_isolated(code: str, env: dict[str, str] | None = None, timeout: float = 3600) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter (so peak RSS is its own); it must print one JSON object last."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})})
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int, warmup: bool = True) -> dict[str, float]:
    """Median seconds of each function, calls alternating so load changes hit both sides.

    Args:
        fns: the functions to time, by name.
        repeats: timed calls of each.
        warmup: make one untimed call of each first (allocator growth, kernel selection).
    """
    return {name: s["median"] for name, s in interleaved_stats(fns, repeats, warmup).items()}


def interleaved_stats(
    fns: dict[str, Callable[[], Any]], repeats: int, warmup: bool = True
) -> dict[str, dict[str, float]]:
    """Median and best (minimum) seconds of each function, timed as :func:`interleaved` does.

    The best call is what the cores do when other jobs leave them alone; the median is
    what a user of a shared machine sees. Reports give both where load is high.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    if warmup:
        for fn in fns.values():
            fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: {"median": statistics.median(ts), "min": min(ts)} for name, ts in times.items()}


_PEAK: dict[int, float] = {}


def matmul_gflops(threads: int | None = None, size: int = 2048, repeats: int = 5, refresh: bool = False) -> float:
    """Best fp32 ``size``² matmul rate (GFLOP/s) on ``threads`` threads (default: as configured).

    The best of several calls, not the median: it estimates what the cores can do, and a
    colleague's job can only make a call slower. Cached per thread count within a run;
    ``refresh`` measures again and keeps the better figure (cases that divide by the peak
    refresh it just before their timings, so one disturbed measurement does not inflate them).
    """
    import torch

    configured = torch.get_num_threads()
    threads = threads or configured
    if refresh or threads not in _PEAK:
        a, b = torch.rand(size, size), torch.rand(size, size)
        torch.set_num_threads(threads)
        try:
            torch.mm(a, b)
            best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
        finally:
            torch.set_num_threads(configured)
        _PEAK[threads] = max(_PEAK.get(threads, 0.0), 2 * size**3 / best / 1e9)
    return _PEAK[threads]


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def result_row(
    case: str,
    unit: str,
    restorefw: float,
    reference: float,
    *,
    lower_is_better: bool = True,
    goal: str | None = None,
    goal_met: bool | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One result: both figures, their ratio (> 1 means restorefw is better), the goal and whether it is met.

    Args:
        case: the case name.
        unit: unit of ``restorefw`` and ``reference``.
        restorefw: restorefw's figure.
        reference: the reference's figure (measured in the same run, or a goal).
        lower_is_better: seconds and megabytes are; rates are not.
        goal: the goal in words, ``None`` where the issue sets none.
        goal_met: whether it is met (``None`` without a goal or without a measurement).
        **extra: case-specific fields, appended after the common ones.
    """
    num, den = (reference, restorefw) if lower_is_better else (restorefw, reference)
    ratio = num / den if den else float("nan")  # a failed measurement reads as NaN, not a crash
    return {"case": case, "unit": unit, "restorefw": restorefw, "reference": reference, "ratio": ratio,
            "goal": goal, "goal_met": goal_met, "load_1m": (load_average() or [None])[0], **extra}
