"""Precision cases: bf16 and fp16 against fp32, in speed and in quality, per seed model.

Speed: the default Restormer's 256² forward under autocast against fp32 (goal for bf16:
0.6x the time). Quality (``benchmarks._quality``): PSNR/SSIM on the fixed evaluation set
after 8-bit rounding, at each precision against fp32, for Restormer, IPT, the basic CNN
(``rescnn``) and MZSR's zero-shot adaptation (its gradient steps in reduced precision, the
final pass in fp32). A precision the device cannot run (``resolve_precision`` refuses it)
gets a ``skipped`` row that says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from benchmarks._common import interleaved, result_row
from benchmarks._quality import EVAL_NAMES, eval_set, quantize, restore_all, scores, train_denoiser

__all__ = ["case_precision", "quality_rows"]

_CPU = torch.device("cpu")
_SPEED_GOAL = "bf16 time <= 0.6x fp32 (default Restormer, 256²)"
_QUALITY_GOAL = "|PSNR(bf16) - PSNR(fp32)| <= 0.02 dB after 8-bit rounding"


def _usable(precision: str, device: torch.device) -> str | None:
    """Why ``precision`` cannot run on ``device``, or ``None``."""
    from restorefw import ConfigError
    from restorefw.engine import resolve_precision

    try:
        resolve_precision(precision, device)
    except ConfigError as exc:
        return str(exc)
    return None


def _speed_rows(quick: bool) -> list[dict[str, Any]]:
    import restorefw
    from benchmarks._cases_restormer import RESTORMER_TINY

    torch.manual_seed(0)
    model = restorefw.create("model", "restormer", **(RESTORMER_TINY if quick else {})).eval()
    size = 64 if quick else 256
    x = torch.rand(1, 3, size, size)
    rows = []
    for precision, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        case = f"precision_restormer_forward_{size}_{precision}"
        why = _usable(precision, _CPU)
        if why:
            rows.append(result_row(case, "s", float("nan"), float("nan"), skipped=why))
            continue

        def reduced(dtype: torch.dtype = dtype) -> Tensor:
            with torch.autocast("cpu", dtype=dtype):
                return model(x)

        with torch.inference_mode():
            full, low = model(x), reduced().float()
            t = interleaved({"restorefw": reduced, "reference": lambda: model(x)}, 1 if quick else 2)
        agreement = float(scores(low, full).psnr)
        goal = _SPEED_GOAL if precision == "bf16" and not quick else None
        rows.append(result_row(
            case, "s", t["restorefw"], t["reference"], goal=goal,
            goal_met=t["restorefw"] <= 0.6 * t["reference"] if goal else None, precision=precision,
            max_abs_diff=(low - full).abs().max().item(), mean_abs_diff=(low - full).abs().mean().item(),
            psnr_vs_fp32_db=agreement, changed_8bit=float((quantize(low) != quantize(full)).float().mean()),
            config="tiny" if quick else "default", weights="random", reference_is="the same model in fp32"))
    return rows


def _models(quick: bool, device: torch.device) -> dict[str, Callable[[], nn.Module]]:
    """The seed models, each trained briefly on denoising on ``device`` (see ``benchmarks._quality``)."""
    import restorefw
    from benchmarks._cases_plugins import IPT_TINY
    from benchmarks._cases_restormer import RESTORMER_TINY

    fewer = 4 if quick else 1  # a smoke run trains a quarter of the steps

    def restormer() -> nn.Module:
        config = RESTORMER_TINY if quick else {}
        return train_denoiser(restorefw.create("model", "restormer", **config), 24 // fewer, 48, 2, lr=5e-4,
                              device=device)

    def ipt() -> nn.Module:
        return train_denoiser(restorefw.create("model", "ipt", **IPT_TINY, scales=[1]), 60 // fewer, 48, 4,
                              device=device)

    def rescnn() -> nn.Module:
        return train_denoiser(restorefw.create("model", "rescnn"), 100 // fewer, 64, 8, device=device)

    return {"restormer": restormer, "ipt": ipt, "rescnn": rescnn}


def _mzsr_rows(images: Tensor, precisions: list[str], quick: bool, device: torch.device) -> list[tuple[Any, ...]]:
    """MZSR x2: adaptation steps at each precision (final pass fp32), scored against the clean crops."""
    from restorefw_mzsr import MZSRNet, adapt
    from restorefw_mzsr._adapt import degrade

    kernel = torch.ones(1, 1) if quick else _gaussian()
    lr_images = degrade(images, kernel, 2)
    torch.manual_seed(0)
    model = MZSRNet(scale=2).to(device)
    steps = 2 if quick else 8
    outs: dict[str, Tensor] = {}
    for precision in ["fp32", *precisions]:
        restored = []
        for lr_image in lr_images:
            dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
            with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                adapted = adapt(model, lr_image.to(device), kernel, steps=steps, lr=0.01)
            restored.append(restore_all(adapted, lr_image[None], None))
        outs[precision] = torch.cat(restored)
    from restorefw.models import precision_support

    support = precision_support(model)
    return [("mzsr_adaptation", p, scores(outs[p], images), scores(outs["fp32"], images),
             f"{steps} adaptation steps at {p}, final pass fp32; random initial weights",
             support.allows(p, "adaptation")) for p in precisions]


def _gaussian(size: int = 15, sigma: float = 2.0) -> Tensor:
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    k = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return k / k.sum()


def quality_rows(quick: bool, precisions: list[str], device: torch.device = _CPU) -> list[dict[str, Any]]:
    """PSNR/SSIM at each of ``precisions`` against fp32, per seed model, on ``device``.

    Rows are named ``precision_quality_<model>_<precision>``, with ``_cuda`` before the
    precision on a GPU.
    """
    from restorefw.models import precision_support

    data = eval_set(48, EVAL_NAMES[:2]) if quick else eval_set(128)
    results = []
    for name, build in _models(quick, device).items():
        torch.manual_seed(0)
        model = build()
        support = precision_support(model)
        fp32 = scores(restore_all(model, data.noisy, None), data.clean)
        for precision in precisions:
            dtype = torch.bfloat16 if precision == "bf16" else torch.float16
            low = scores(restore_all(model, data.noisy, dtype), data.clean)
            results.append((name, precision, low, fp32, "brief fp32 denoising training, seed 0",
                            support.allows(precision, "inference")))
    results += _mzsr_rows(data.clean, precisions, quick, device)
    where = "_cuda" if device.type == "cuda" else ""
    rows = []
    for name, precision, low, fp32, weights, declared in results:
        delta = low.psnr - fp32.psnr
        goal = _QUALITY_GOAL if name == "restormer" and precision == "bf16" and not quick else None
        rows.append(result_row(
            f"precision_quality_{name}{where}_{precision}", "dB", low.psnr, fp32.psnr, lower_is_better=False, goal=goal,
            goal_met=abs(delta) <= 0.02 if goal else None, precision=precision, psnr_delta_db=delta,
            ssim=low.ssim, ssim_fp32=fp32.ssim, ssim_delta=low.ssim - fp32.ssim, images=len(data.names),
            crop=data.clean.shape[-1], declared_safe=declared, weights=weights, device=str(device),
            reference_is="the same model in fp32"))
    return rows


def case_precision(quick: bool, threads: int) -> list[dict[str, Any]]:
    """bf16/fp16 against fp32 on the CPU: the default Restormer's speed, and the quality cost per seed model."""
    rows = _speed_rows(quick)
    usable = [p for p in ("bf16", "fp16") if _usable(p, _CPU) is None]
    rows += [result_row(f"precision_quality_{p}", "dB", float("nan"), float("nan"), skipped=_usable(p, _CPU))
             for p in ("bf16", "fp16") if p not in usable]
    return rows + quality_rows(quick, usable)
