"""The benchmark suite: restorefw against a reference in the same run, printed as one JSON document.

Usage: ``python -m benchmarks.run [--quick] [--only restormer_forward,cli,...] [--threads 2]``.

Every case reports the restorefw figure, the reference figure and their ratio (> 1 means restorefw is
better), so numbers from shared, noisy machines stay comparable. Timings interleave the two sides and
take medians. The Restormer reference is the same model built with the plain-torch reference ops
(``restorefw.ops.use("reference")``) and the same weights; outputs must agree within 1e-4 first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from benchmarks._common import environment, run_isolated

RESTORMER_TINY = {"dim": 16, "num_blocks": [1, 2, 2, 2], "heads": [1, 2, 4, 8], "num_refinement_blocks": 1,
                  "LayerNorm_type": "BiasFree"}


def _interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds of each function, calls alternating so load changes hit both sides."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _restormer_pair(config: dict[str, Any]) -> tuple[torch.nn.Module, torch.nn.Module]:
    import restorefw
    from restorefw.ops import use

    torch.manual_seed(0)
    fast = restorefw.create("model", "restormer", **config)
    with use("reference"):
        ref = restorefw.create("model", "restormer", **config)
    ref.load_state_dict(fast.state_dict())
    return fast, ref


def case_restormer_forward(quick: bool) -> list[dict[str, Any]]:
    """Default Restormer, batch 1, fp32, inference mode, at 128² and 256²."""
    fast, ref = (m.eval() for m in _restormer_pair({}))
    rows = []
    for size in (128,) if quick else (128, 256):
        x = torch.rand(1, 3, size, size)
        with torch.inference_mode():
            diff = (fast(x) - ref(x)).abs().max().item()
            t = _interleaved({"restorefw": lambda: fast(x), "reference": lambda: ref(x)}, 1 if quick else 3)
        rows.append({"case": f"restormer_forward_{size}", "unit": "s", "restorefw": t["restorefw"],
                     "reference": t["reference"], "ratio": t["reference"] / t["restorefw"], "max_abs_diff": diff,
                     "outputs_agree": diff <= 1e-4})
    return rows


def case_restormer_train_step(quick: bool) -> list[dict[str, Any]]:
    """Restormer forward + backward + AdamW at 128², batch 1 and 4 (default config; tiny with --quick)."""
    rows = []
    for batch in (1,) if quick else (1, 4):
        fast, ref = _restormer_pair(RESTORMER_TINY if quick else {})
        opts = {m: torch.optim.AdamW(m.parameters(), lr=3e-4) for m in (fast, ref)}
        x = torch.rand(batch, 3, 128, 128)

        def step(model: torch.nn.Module) -> None:
            loss = (model(x) - x).abs().mean()
            opts[model].zero_grad()
            loss.backward()
            opts[model].step()

        t = _interleaved({"restorefw": lambda: step(fast), "reference": lambda: step(ref)}, 1 if quick else 3)
        rows.append({"case": f"restormer_train_step_b{batch}", "unit": "s", "restorefw": t["restorefw"],
                     "reference": t["reference"], "ratio": t["reference"] / t["restorefw"],
                     "config": "tiny" if quick else "default"})
    return rows


_TILED = """
import json, resource, time, torch
torch.set_num_threads({threads})
import restorefw
from restorefw.engine import restore_image
model = restorefw.create("model", "restormer").eval()
x = torch.rand(1, 3, {size}, {size})
start = time.perf_counter()
restore_image(model, x, torch.device("cpu"), tile={tile}, overlap=32)
print(json.dumps({{"seconds": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def case_tiled(quick: bool, threads: int) -> list[dict[str, Any]]:
    """Tiled inference of a large image with the default Restormer: peak RSS against the 4 GB goal."""
    size, tile = (512, 256) if quick else (2048, 512)
    result = run_isolated(_TILED.format(threads=threads, size=size, tile=tile))
    rss = result.get("peak_rss_mb", float("nan"))
    return [{"case": f"restormer_tiled_{size}", "unit": "MB", "restorefw": rss, "reference": 4096.0,
             "ratio": 4096.0 / rss, "seconds": result.get("seconds"), "tile": tile, "overlap": 32,
             "reference_is": "goal: peak RSS below 4 GB", **({"error": result["error"]} if "error" in result else {})}]


def case_data_pipeline(quick: bool) -> list[dict[str, Any]]:
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

    consume = _interleaved({"step": train_step}, 1 if quick else 3)["step"]
    rows = []
    for name, spec in {"sr_x2_bicubic": {"type": "sr", "scale": 2}, "noise": "denoise", "blur": "deblur",
                       "rain": "derain"}.items():
        task = restorefw.create("task", spec)
        generator = torch.Generator().manual_seed(0)

        def produce(task: Any = task, generator: torch.Generator = generator) -> None:
            task.degradation(sample_batch(dataset, batch, patch, generator), generator)

        seconds = _interleaved({"produce": produce}, 2 if quick else 5)["produce"]
        rows.append({"case": f"data_{name}", "unit": "patches/s", "restorefw": batch / seconds,
                     "reference": batch / consume, "ratio": consume / seconds,
                     "reference_is": "patches/s consumed by a tiny Restormer training step (batch 8, 64²)"})
    return rows


def case_cli(quick: bool) -> list[dict[str, Any]]:
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
        rows.append({"case": f"cli_{name}", "unit": "s", "restorefw": seconds, "reference": torch_import,
                     "ratio": torch_import / seconds, "reference_is": "python -c 'import torch'"})
    return rows


CASES: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "restormer_forward": case_restormer_forward,
    "restormer_train_step": case_restormer_train_step,
    "tiled": case_tiled,
    "data_pipeline": case_data_pipeline,
    "cli": case_cli,
}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat (a smoke run)")
    parser.add_argument("--only", help="comma-separated case names: " + ", ".join(CASES))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from restorefw._malloc import tune_malloc

    malloc = tune_malloc()
    names = args.only.split(",") if args.only else list(CASES)
    unknown = sorted(set(names) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    results = []
    for name in names:
        fn = CASES[name]
        results += fn(args.quick, args.threads) if name == "tiled" else fn(args.quick)
    report = {"suite": "restorefw", "quick": args.quick, "results": results,
              "environment": {**environment(), "malloc_tuning": malloc}}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
