"""Restormer cases: forward (with the useful-FLOP fraction of the matmul peak), training step, tiled inference."""

from __future__ import annotations

from typing import Any

import torch

from benchmarks._common import interleaved, matmul_gflops, result_row, run_isolated

__all__ = ["RESTORMER_TINY", "case_restormer_forward", "case_restormer_train_step", "case_tiled"]

RESTORMER_TINY = {"dim": 16, "num_blocks": [1, 2, 2, 2], "heads": [1, 2, 4, 8], "num_refinement_blocks": 1,
                  "LayerNorm_type": "BiasFree"}

# Multiply-accumulates of the default Restormer (dim 48, blocks [4, 6, 6, 8]) at batch 1; they scale with
# the pixel count (MDTA's channel attention is linear in H·W), so 128² is a quarter of 256².
_GMAC_256 = 154.9


def _restormer_pair(config: dict[str, Any]) -> tuple[torch.nn.Module, torch.nn.Module]:
    import restorefw
    from restorefw.ops import use

    torch.manual_seed(0)
    fast = restorefw.create("model", "restormer", **config)
    with use("reference"):
        ref = restorefw.create("model", "restormer", **config)
    ref.load_state_dict(fast.state_dict())
    return fast, ref


def case_restormer_forward(quick: bool, threads: int) -> list[dict[str, Any]]:
    """Default Restormer, batch 1, fp32, inference mode, at 128² and 256²; reference ops, same weights."""
    fast, ref = (m.eval() for m in _restormer_pair({}))
    peak = matmul_gflops()
    rows = []
    for size, repeats in ((128, 1),) if quick else ((128, 2), (256, 1)):
        x = torch.rand(1, 3, size, size)
        with torch.inference_mode():
            diff = (fast(x) - ref(x)).abs().max().item()
            # The agreement check above doubles as the warm-up.
            t = interleaved({"restorefw": lambda: fast(x), "reference": lambda: ref(x)}, repeats, warmup=False)
        gflop = 2 * _GMAC_256 * (size / 256) ** 2
        goal = "restorefw time <= 0.8x reference" if size == 256 else None
        rows.append(result_row(
            f"restormer_forward_{size}", "s", t["restorefw"], t["reference"], goal=goal,
            goal_met=t["restorefw"] <= 0.8 * t["reference"] if goal else None,
            max_abs_diff=diff, outputs_agree=diff <= 1e-4, gflop=round(gflop, 2),
            gflop_per_s=gflop / t["restorefw"], matmul_peak_gflop_per_s=peak,
            peak_fraction=gflop / t["restorefw"] / peak))
    return rows


def case_restormer_train_step(quick: bool, threads: int) -> list[dict[str, Any]]:
    """Restormer forward + backward + AdamW at 128², batch 1 (default config; tiny with --quick).

    Batch 4 (``batches=(1, 4)``) takes minutes per step pair on two shared cores, so the suite leaves it out.
    """
    rows = []
    for batch, repeats in ((1, 1),):
        fast, ref = _restormer_pair(RESTORMER_TINY if quick else {})
        opts = {m: torch.optim.AdamW(m.parameters(), lr=3e-4) for m in (fast, ref)}
        x = torch.rand(batch, 3, 128, 128)

        def step(model: torch.nn.Module) -> None:
            loss = (model(x) - x).abs().mean()
            opts[model].zero_grad()
            loss.backward()
            opts[model].step()

        t = interleaved({"restorefw": lambda: step(fast), "reference": lambda: step(ref)}, repeats)
        rows.append(result_row(f"restormer_train_step_b{batch}", "s", t["restorefw"], t["reference"],
                               goal="restorefw time <= 1.0x reference",
                               goal_met=t["restorefw"] <= t["reference"], config="tiny" if quick else "default"))
    return rows


_TILED = """
import json, resource, time, torch
torch.set_num_threads({threads})
from restorefw._malloc import tune_malloc
tune_malloc()
import restorefw
from restorefw.engine import restore_image

def peak_rss_mb():
    # VmHWM belongs to this program's address space; ru_maxrss carries the parent's peak over fork + exec.
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

torch.manual_seed(0)
model = restorefw.create("model", "restormer").eval()
x = torch.rand(1, 3, {size}, {size})
start = time.perf_counter()
out = restore_image(model, x, torch.device("cpu"), tile={tile}, overlap=32)
seconds = time.perf_counter() - start
rss = peak_rss_mb()
wide = restore_image(model, x, torch.device("cpu"), tile={tile}, overlap={wide})
print(json.dumps({{"seconds": seconds, "peak_rss_mb": rss, "seam_max_abs_diff": (out - wide).abs().max().item(),
                  "seam_mean_abs_diff": (out - wide).abs().mean().item()}}))
"""


def case_tiled(quick: bool, threads: int) -> list[dict[str, Any]]:
    """Tiled inference with the default Restormer (random weights): peak RSS, time, and seams.

    Peak RSS is taken before the second pass, so it is that of one tiled restoration. The seam check
    compares overlap 32 with a wider overlap on the same image: both are approximations of the untiled
    output (MDTA attends over the whole tile), so their difference measures how much tiling moves pixels.
    """
    # 2048² at tile 512 is ~25 tile forwards of ~1.2 TFLOP each, 20+ minutes on two cores: the full run
    # takes a 256² image at tile 128 (9 tiles per pass); `benchmarks.restormer_cpu --tiled-size 2048
    # --tile 512` measures the large image on its own.
    size, tile, wide = (128, 64, 48) if quick else (256, 128, 64)
    result = run_isolated(_TILED.format(threads=threads, size=size, tile=tile, wide=wide))
    error = {"error": result["error"]} if "error" in result else {}
    rss = result.get("peak_rss_mb", float("nan"))
    seam = result.get("seam_max_abs_diff", float("nan"))
    return [
        result_row(f"restormer_tiled_{size}", "MB", rss, 4096.0, goal="peak RSS < 4096 MB", goal_met=rss < 4096
                   if not error else None, seconds=result.get("seconds"), tile=tile, overlap=32,
                   reference_is="goal: peak RSS below 4 GB", **error),
        result_row(f"restormer_tiled_{size}_seams", "max abs diff", seam, 1e-3, goal="max |overlap 32 - overlap "
                   f"{wide}| < 1e-3", goal_met=seam < 1e-3 if not error else None, tile=tile, overlaps=[32, wide],
                   mean_abs_diff=result.get("seam_mean_abs_diff"), weights="random",
                   reference_is="goal: 1e-3", **error),
    ]
