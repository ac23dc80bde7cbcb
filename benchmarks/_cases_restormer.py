"""Restormer cases: forward (with the useful-FLOP fraction of the matmul peak), training step, tiled inference."""

from __future__ import annotations

from typing import Any

import torch

from benchmarks._common import PEAK_RSS, interleaved, matmul_gflops, result_row, run_isolated

__all__ = ["RESTORMER_TINY", "case_restormer_forward", "case_restormer_train_step", "case_tiled", "tiled_script"]

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
    """Default Restormer, batch 1, fp32, inference mode, at 128² and 256²; reference ops, same weights.

    restorefw's side gets its input as ``restore_image`` gives it (channels-last on the CPU,
    which the model declares); the reference takes the plain NCHW tensor.
    """
    from restorefw.models import describe

    fast, ref = (m.eval() for m in _restormer_pair({}))
    peak = matmul_gflops()
    rows = []
    for size, repeats in ((128, 1),) if quick else ((128, 2), (256, 2)):
        x = torch.rand(1, 3, size, size)
        x_fast = x.contiguous(memory_format=torch.channels_last) if describe(fast).cpu_channels_last else x
        with torch.inference_mode():
            diff = (fast(x_fast) - ref(x)).abs().max().item()
            # The agreement check above doubles as the warm-up.
            t = interleaved({"restorefw": lambda: fast(x_fast), "reference": lambda: ref(x)}, repeats, warmup=False)
        gflop = 2 * _GMAC_256 * (size / 256) ** 2
        fraction = gflop / t["restorefw"] / peak
        common = {"max_abs_diff": diff, "outputs_agree": diff <= 1e-4, "channels_last": x_fast is not x}
        goal = "restorefw time <= 0.8x reference" if size == 256 else None
        rows.append(result_row(
            f"restormer_forward_{size}", "s", t["restorefw"], t["reference"], goal=goal,
            goal_met=t["restorefw"] <= 0.8 * t["reference"] and diff <= 1e-4 if goal else None,
            gflop=round(gflop, 2), gflop_per_s=gflop / t["restorefw"], matmul_peak_gflop_per_s=peak,
            peak_fraction=fraction, **common))
        if size == 256:
            rows.append(result_row(
                "restormer_forward_256_peak_fraction", "fraction of matmul peak", fraction, 0.5,
                lower_is_better=False, goal="useful FLOPs >= 50% of the measured fp32 matmul peak",
                goal_met=fraction >= 0.5, gflop_per_s=gflop / t["restorefw"], matmul_peak_gflop_per_s=peak,
                reference_is="goal: 0.5", **common))
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


TILED = PEAK_RSS + """
import json, time, torch
torch.set_num_threads({threads})
from restorefw._malloc import tune_malloc
tune_malloc()
import restorefw
from restorefw.engine import restore_image

torch.manual_seed(0)
model = restorefw.create("model", "restormer").eval()
x = torch.rand(1, 3, {size}, {size})
cpu = torch.device("cpu")
start = time.perf_counter()
out = restore_image(model, x, cpu, tile={tile}, overlap=32, tile_mode="{mode}")
result = {{"size": {size}, "tile": {tile}, "mode": "{mode}", "seconds": time.perf_counter() - start,
          "peak_rss_mb": peak_rss_mb()}}
if {other_tile}:
    # Another tile and a wider overlap: the seams of one layout show up as differences to the other.
    other = restore_image(model, x, cpu, tile={other_tile}, overlap=64, tile_mode="{mode}")
    result.update(other_tile={other_tile}, seam_max_abs_diff=(out - other).abs().max().item(),
                  seam_mean_abs_diff=(out - other).abs().mean().item())
if {untiled}:
    whole = restore_image(model, x, cpu)
    result.update(untiled_max_abs_diff=(out - whole).abs().max().item())
print(json.dumps(result))
"""


def tiled_script(threads: int, size: int, tile: int, mode: str = "auto", other_tile: int = 0,
                 untiled: bool = False) -> str:
    """A script restoring a random ``size``² image with the default Restormer in ``tile``² tiles.

    It prints seconds and peak RSS of that restoration; with ``other_tile`` it restores the
    image again in ``other_tile``² tiles with overlap 64 (instead of 32) and prints their
    difference; with ``untiled`` the difference to the untiled result.
    """
    return TILED.format(threads=threads, size=size, tile=tile, mode=mode, other_tile=other_tile, untiled=untiled)


def case_tiled(quick: bool, threads: int) -> list[dict[str, Any]]:
    """Tiled inference with the default Restormer (random weights): peak RSS, time, and seams.

    Peak RSS is taken before the second pass, so it is that of one tiled restoration. The seam
    check restores the image again with other tiles and a wider overlap; ``auto`` tiling is the
    model's exact tiling, so the figure is float rounding, and it is checked against the untiled
    output too. The overlapping-tile mode (Restormer demo's) is reported beside it.
    """
    # 2048² takes about 8 minutes per pass on two cores: the suite takes a 256² image (so the untiled
    # result fits as well); `benchmarks.restormer_cpu --tiled-size 2048 --tile 256` measures the large one.
    size, tile, other = (128, 64, 96) if quick else (256, 128, 192)
    rows = []
    for mode in ("auto", "overlap"):
        result = run_isolated(tiled_script(threads, size, tile, mode, other_tile=other, untiled=True))
        error = {"error": result["error"]} if "error" in result else {}
        rss = result.get("peak_rss_mb", float("nan"))
        seam = result.get("seam_max_abs_diff", float("nan"))
        name = f"restormer_tiled_{size}" + ("_overlap_mode" if mode == "overlap" else "")
        # The overlapping-tile rows are there for comparison: the goals are the default (exact) tiling's.
        judged = mode == "auto" and not error
        seam_goal = f"max |tile {tile} overlap 32 - tile {other} overlap 64| < 1e-3"
        rows += [
            result_row(name, "MB", rss, 4096.0, goal="peak RSS < 4096 MB" if mode == "auto" else None,
                       goal_met=rss < 4096 if judged else None, seconds=result.get("seconds"), tile=tile, mode=mode,
                       reference_is="goal: peak RSS below 4 GB", **error),
            result_row(f"{name}_seams", "max abs diff", seam, 1e-3,
                       goal=seam_goal if mode == "auto" else None,
                       goal_met=seam < 1e-3 if judged else None, tiles=[tile, other], overlaps=[32, 64],
                       mode=mode, mean_abs_diff=result.get("seam_mean_abs_diff"),
                       untiled_max_abs_diff=result.get("untiled_max_abs_diff"), weights="random",
                       reference_is="goal: 1e-3", **error),
        ]
    return rows
