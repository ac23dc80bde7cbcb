"""Restormer cases: forward (with the useful-FLOP fraction of the matmul peak), training step, tiled inference."""

from __future__ import annotations

from typing import Any

import torch

from benchmarks._common import PEAK_RSS, interleaved_stats, matmul_gflops, result_row, run_isolated
from benchmarks._spandrel import spandrel_restormer_class

__all__ = [
    "RESTORMER_TINY", "case_restormer_forward", "case_restormer_train_step", "case_tiled", "restormer_gflop",
    "tiled_script",
]

RESTORMER_TINY = {"dim": 16, "num_blocks": [1, 2, 2, 2], "heads": [1, 2, 4, 8], "num_refinement_blocks": 1,
                  "LayerNorm_type": "BiasFree"}

def restormer_gflop(size: int, config: dict[str, Any] | None = None) -> float:
    """Useful GFLOP (2 per multiply-accumulate) of one Restormer forward of a ``size``² image, batch 1.

    Counted layer by layer as the model is defined (MDTA's two attention matmuls included, its
    channel attention is linear in the pixel count): 309.8 GFLOP for the default model at 256².
    """
    c = {"inp_channels": 3, "out_channels": 3, "dim": 48, "num_blocks": [4, 6, 6, 8], "heads": [1, 2, 4, 8],
         "num_refinement_blocks": 4, "ffn_expansion_factor": 2.66, **(config or {})}
    dim, pixels, ffn = c["dim"], size * size, c["ffn_expansion_factor"]

    def block(width: int, heads: int, px: int) -> int:
        hidden = int(width * ffn)
        attention = 3 * width * width + 27 * width + 2 * width * width // heads + width * width
        return px * (attention + 2 * width * hidden + 18 * hidden + hidden * width)

    levels = [(dim * 2**i, c["heads"][i], pixels // 4**i) for i in range(4)]
    mac = sum(n * block(*level) for n, level in zip(c["num_blocks"], levels, strict=True))
    # Decoder levels 3 and 2 repeat the encoder's blocks; level 1 and the refinement work on 2*dim channels.
    mac += c["num_blocks"][2] * block(*levels[2]) + c["num_blocks"][1] * block(*levels[1])
    mac += (c["num_blocks"][0] + c["num_refinement_blocks"]) * block(2 * dim, c["heads"][0], pixels)
    mac += pixels * 9 * (c["inp_channels"] * dim + 2 * dim * c["out_channels"])  # stem and output convolutions
    mac += sum(pixels // 4**i * 9 * (w * w // 2) for i, w in enumerate((dim, 2 * dim, 4 * dim)))  # down-samplings
    mac += sum(pixels // 4**i * 9 * (2 * w * w) for i, w in ((3, 8 * dim), (2, 4 * dim), (1, 2 * dim)))  # up
    mac += pixels // 16 * 8 * dim * 4 * dim + pixels // 4 * 4 * dim * 2 * dim  # channel reductions
    return 2 * mac / 1e9


def _restormer_models(config: dict[str, Any], train: bool = False) -> dict[str, torch.nn.Module]:
    """restorefw's model, the same weights built with the reference ops, and spandrel's when installed."""
    import restorefw
    from restorefw.ops import use

    torch.manual_seed(0)
    fast = restorefw.create("model", "restormer", **config)
    with use("reference"):
        ref = restorefw.create("model", "restormer", **config)
    ref.load_state_dict(fast.state_dict())
    models = {"restorefw": fast, "reference": ref}
    spandrel, _ = spandrel_restormer_class()
    if spandrel is not None:
        models["spandrel"] = spandrel(**config)
        models["spandrel"].load_state_dict(fast.state_dict())
    return {name: m.train(train) for name, m in models.items()}


def _vs_spandrel(case: str, unit: str, t: dict[str, float], **extra: Any) -> dict[str, Any]:
    """restorefw's plain ``model(x)`` against spandrel's eager Restormer, or a ``skipped`` row."""
    _, version = spandrel_restormer_class()
    if "spandrel" not in t:
        nan = float("nan")
        return result_row(case, unit, nan, nan, goal=extra.pop("goal", None), skipped=version)
    return result_row(case, unit, t["model"], t["spandrel"], reference_is=f"spandrel's Restormer ({version}), "
                      "same weights, NCHW input", **extra)


def case_restormer_forward(quick: bool, threads: int) -> list[dict[str, Any]]:
    """Default Restormer, batch 1, fp32, inference mode, at 128² and 256², through both entry points.

    ``restore_image`` hands the model a channels-last input on the CPU; a plain ``model(x)``
    call gives it the NCHW tensor (the model converts it itself). References: the same
    weights with the plain-torch reference ops (NCHW), and spandrel's eager Restormer.
    """
    models = {n: m.eval() for n, m in _restormer_models({}).items()}
    fast = models["restorefw"]
    rows = []
    for size, repeats in ((128, 1),) if quick else ((128, 2), (256, 3)):
        x = torch.rand(1, 3, size, size)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        # Every side's input is bound per size (a default argument), not looked up when called.
        fns = {"restore_image": lambda x=x_cl: fast(x), "model": lambda x=x: fast(x),
               "reference": lambda x=x: models["reference"](x)}
        if "spandrel" in models:
            fns["spandrel"] = lambda x=x: models["spandrel"](x)
        with torch.inference_mode():
            expected = models["reference"](x)
            # The agreement check doubles as the warm-up.
            diff = max((fn() - expected).abs().max().item() for name, fn in fns.items() if name != "reference")
            stats = interleaved_stats(fns, repeats, warmup=False)
        t = {name: s["median"] for name, s in stats.items()}
        best = {f"best_{name}": s["min"] for name, s in stats.items()}
        peak = matmul_gflops(refresh=True)
        gflop = restormer_gflop(size)
        fraction = gflop / t["model"] / peak
        common = {"max_abs_diff": diff, "outputs_agree": diff <= 1e-4, **best}
        goal = "restorefw time <= 0.8x reference" if size == 256 else None
        rows.append(result_row(
            f"restormer_forward_{size}", "s", t["restore_image"], t["reference"], goal=goal,
            goal_met=t["restore_image"] <= 0.8 * t["reference"] and diff <= 1e-4 if goal else None,
            entry="restore_image (channels-last input)", gflop=round(gflop, 2), **common))
        rows.append(result_row(
            f"restormer_forward_{size}_model", "s", t["model"], t["reference"], entry="model(x), NCHW input",
            gflop=round(gflop, 2), gflop_per_s=gflop / t["model"], matmul_peak_gflop_per_s=peak,
            peak_fraction=fraction, **common))
        rows.append(_vs_spandrel(f"restormer_forward_{size}_vs_spandrel", "s", t, entry="model(x), NCHW input",
                                 **common))
        if size == 256:
            rows.append(result_row(
                "restormer_forward_256_peak_fraction", "fraction of matmul peak", fraction, 0.6,
                lower_is_better=False, goal="useful FLOPs >= 60% of the measured fp32 matmul peak",
                goal_met=fraction >= 0.6, gflop_per_s=gflop / t["model"], matmul_peak_gflop_per_s=peak,
                best_fraction=gflop / stats["model"]["min"] / peak, reference_is="goal: 0.6", **common))
    return rows


def case_restormer_train_step(quick: bool, threads: int) -> list[dict[str, Any]]:
    """Restormer forward + backward + AdamW at 128², batch 1 (default config; tiny with --quick).

    Every side takes the plain NCHW batch, as the training loop gives it; restorefw's optimizer
    is its ``adamw`` component, the references' torch's default AdamW. Batch 4 takes minutes
    per step pair on two shared cores, so the suite leaves it out.
    """
    import restorefw

    models = _restormer_models(RESTORMER_TINY if quick else {}, train=True)
    # restorefw's side takes restorefw's optimizer component (fused AdamW where torch has it),
    # the plain eager sides torch's default AdamW.
    opts = {m: torch.optim.AdamW(m.parameters(), lr=3e-4) for m in models.values()}
    opts[models["restorefw"]] = restorefw.create("optimizer", "adamw", lr=3e-4)(models["restorefw"].parameters())
    x = torch.rand(1, 3, 128, 128)

    def step(model: torch.nn.Module, precision: torch.dtype | None = None) -> None:
        with torch.autocast("cpu", dtype=precision or torch.bfloat16, enabled=precision is not None):
            loss = (model(x).float() - x).abs().mean()
        opts[model].zero_grad()
        loss.backward()
        opts[model].step()

    fns = {name if name != "restorefw" else "model": (lambda m=m: step(m)) for name, m in models.items()}
    fns["model_bf16"] = lambda: step(models["restorefw"], torch.bfloat16)
    stats = interleaved_stats(fns, 1 if quick else 2)
    t = {name: s["median"] for name, s in stats.items()}
    best = {f"best_{name}": s["min"] for name, s in stats.items()}
    config = "tiny" if quick else "default"
    goal = "restorefw time <= 0.7x reference"
    return [
        result_row("restormer_train_step_b1", "s", t["model"], t["reference"], goal=goal,
                   goal_met=t["model"] <= 0.7 * t["reference"], config=config, **best),
        _vs_spandrel("restormer_train_step_b1_vs_spandrel", "s", t, goal=goal,
                     goal_met=t.get("model", 0) <= 0.7 * t.get("spandrel", 0), config=config, **best),
        result_row("restormer_train_step_b1_bf16", "s", t["model_bf16"], t["model"], config=config,
                   reference_is="the same step in fp32", **best),
    ]


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
