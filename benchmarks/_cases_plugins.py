"""Plugin cases: IPT's batched chop against a tile-at-a-time loop, and MZSR zero-shot adaptation."""

from __future__ import annotations

import importlib.util
import time
from typing import Any

import torch

from benchmarks._common import interleaved, result_row

__all__ = ["IPT_TINY", "case_ipt_chop", "case_mzsr_adapt", "one_tile_at_a_time"]

IPT_TINY = {"n_feats": 8, "num_heads": 2, "num_layers": 1}


def _skipped(case: str, reason: str) -> dict[str, Any]:
    nan = float("nan")
    return result_row(case, "s", nan, nan, skipped=reason)


def one_tile_at_a_time(model: Any, x: torch.Tensor) -> torch.Tensor:
    """IPT x2 through :func:`chop_forward` with ``batch=1``: the model's own chop, one tile per body call."""
    from restorefw_ipt import chop_forward

    c = model.config
    return chop_forward(lambda t: model.forward_patch(t, 0), x, c.patch_size, c.stride, c.margin, 2, 1)


def case_ipt_chop(quick: bool, threads: int) -> list[dict[str, Any]]:
    """IPT x2 on a non-48² image: restorefw's batched chop against the plain eager model, one tile per call.

    The reference is the same weights built with the reference ops, through :func:`chop_forward`
    with ``batch=1``: identical tiles, masks and stitching, so the outputs must agree. The same
    chop one tile at a time with restorefw's ops (``one_tile_same_ops``) shows what batching
    alone buys.
    """
    if importlib.util.find_spec("restorefw_ipt") is None:
        return [_skipped("ipt_chop", "restorefw_ipt is not installed")]
    from restorefw.ops import use
    from restorefw_ipt import IPT, IPTConfig

    # The full body (115 M parameters, ~60 GFLOP per 48² tile) on 256² means 361 tiles, about 22 TFLOP
    # per pass: minutes per pass on two cores, so the suite runs it on a 72² image (9 tiles) and
    # `benchmarks.ipt_chop --size 256` on the large one.
    # Three interleaved calls per side for the full body: single calls moved the ratio by ±10 % on a shared machine.
    runs = [("tiny", IPT_TINY, 96, 1)] if quick else [("tiny", IPT_TINY, 256, 1), ("full", {}, 72, 3)]
    rows = []
    for body, params, size, repeats in runs:
        torch.manual_seed(0)
        model = IPT(IPTConfig(**params, scales=[2])).eval()
        with use("reference"):
            plain = IPT(IPTConfig(**params, scales=[2])).eval()
        plain.load_state_dict(model.state_dict())
        c = model.config
        x = torch.rand(1, 3, size, size)
        fns = {"restorefw": lambda model=model, x=x: model(x),
               "reference": lambda plain=plain, x=x: one_tile_at_a_time(plain, x),
               "one_tile_same_ops": lambda model=model, x=x: one_tile_at_a_time(model, x)}
        with torch.inference_mode():
            expected = fns["reference"]()
            diff = max((fn() - expected).abs().max().item() for name, fn in fns.items() if name != "reference")
            # The agreement check is the warm-up (a full-body pass is too slow to repeat for nothing).
            t = interleaved(fns, repeats, warmup=False)
        tiles = len(range(0, _padded(size, c.patch_size, c.stride) - c.patch_size + 1, c.stride)) ** 2
        goal = "restorefw time <= 0.8x reference" if body == "full" else None
        rows.append(result_row(f"ipt_chop_{body}_{size}", "s", t["restorefw"], t["reference"], body=body,
                               goal=goal, goal_met=t["restorefw"] <= 0.8 * t["reference"] if goal else None,
                               parameters=sum(p.numel() for p in model.parameters()), tiles=tiles,
                               chop_batch=c.chop_batch, max_abs_diff=diff, outputs_agree=diff <= 1e-4,
                               one_tile_same_ops=t["one_tile_same_ops"],
                               reference_is="reference ops, the same chop one tile per forward call"))
    return rows


def _padded(size: int, patch: int, stride: int) -> int:
    return patch + -(-max(size - patch, 0) // stride) * stride


def _gaussian(size: int = 15, sigma: float = 2.0) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    k = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return k / k.sum()


def case_mzsr_adapt(quick: bool, threads: int) -> list[dict[str, Any]]:
    """One MZSR adaptation step on a 256² LR image (x2, Gaussian kernel); reference: the 2 s goal."""
    if importlib.util.find_spec("restorefw_mzsr") is None:
        return [_skipped("mzsr_adapt_256", "restorefw_mzsr is not installed")]
    try:
        from restorefw_mzsr import MZSRNet, adapt
    except (ImportError, AttributeError) as exc:  # a plugin half-written is a skip, not a suite failure
        return [_skipped("mzsr_adapt_256", f"restorefw_mzsr does not import: {exc}")]

    torch.manual_seed(0)
    model = MZSRNet(scale=2)
    image = torch.rand(3, 256, 256, generator=torch.Generator().manual_seed(0))
    kernel = _gaussian()
    adapt(model, image, kernel, steps=1)  # warm-up
    times = []
    for _ in range(2 if quick else 5):
        start = time.perf_counter()
        adapt(model, image, kernel, steps=1)
        times.append(time.perf_counter() - start)
    seconds = sorted(times)[len(times) // 2]
    return [result_row("mzsr_adapt_256", "s", seconds, 2.0, goal="1-step adaptation < 2 s", goal_met=seconds < 2.0,
                       scale=2, steps=1, parameters=sum(p.numel() for p in model.parameters()),
                       reference_is="goal: 2 s")]
