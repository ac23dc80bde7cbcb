"""Running a model as a paper's test script does, and scoring its output by the paper's protocol."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from restorefw._registry import Registry
from restorefw.data import EvalProtocol, quantize_8bit
from restorefw.engine._evalmodels import EvalModel
from restorefw.engine._evalsets import EvalItem
from restorefw.engine._evaluate import restore_image, self_ensemble

__all__ = ["EXACT_TILE", "Inference", "Scorer", "luma", "measured", "no_tf32", "run_model", "threads"]

EXACT_TILE = 512
"""Tile side (input pixels) of models with exact tiling under a protocol with ``tiling = "exact"``."""

_PROC_STATUS, _CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def luma(img: Tensor, rounded: bool) -> Tensor:
    """BT.601 luma of RGB images in [0, 1], divided by 255, ``(B, 1, H, W)`` float64.

    The arithmetic of MZSR's ``utils.rgb2y`` and MATLAB's ``rgb2ycbcr`` on ``uint8`` images: the
    channels as 8-bit values, ``65.481/255·R + 128.553/255·G + 24.966/255·B + 16``, rounded to an
    integer when ``rounded`` (the 8-bit levels are taken first then, as those scripts get them).
    """
    values = img.double().clamp(0, 1) * 255
    if rounded:
        values = values.round()
    y = 65.481 / 255 * values[:, 0:1] + 128.553 / 255 * values[:, 1:2] + 24.966 / 255 * values[:, 2:3] + 16
    return (y.round() if rounded else y) / 255


class Scorer:
    """The metrics of a protocol, with its rounding, luma and border.

    Args:
        protocol: the protocol.
        scale: the test set's scale (for a border of ``"scale"``).
        channels: the test set's channels (grey sets are scored as they are).
        registry: where the metrics come from.
        metric_specs: resolved metric specs to use instead (a run's own validation, scored as its runner did).
    """

    def __init__(self, protocol: EvalProtocol, scale: int, channels: int, registry: Registry,
                 metric_specs: Sequence[Mapping[str, Any]] | None = None) -> None:
        self.protocol = protocol
        y_channel = protocol.y_channel and channels == 3
        if metric_specs is not None:
            self.own_luma = False
            specs = [dict(spec) for spec in metric_specs]
        else:
            fields = {name: registry.get("metric", name).schema.model_fields for name in protocol.metrics}
            # Rounded luma is computed here (no metric rounds it), and so is the luma of metrics that
            # cannot compute it; otherwise each metric takes its own (BasicSR's float luma).
            self.own_luma = y_channel and (protocol.round_y or any("y_channel" not in f for f in fields.values()))
            wanted = {"crop_border": protocol.border(scale), "y_channel": y_channel and not self.own_luma}
            specs = [{"type": name, **{k: v for k, v in wanted.items() if k in known}}
                     for name, known in fields.items()]
        self.metrics: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
            spec["type"]: registry.create("metric", spec) for spec in specs}
        self.higher_is_better = {name: bool(getattr(fn, "higher_is_better", True)) for name, fn in self.metrics.items()}

    def __call__(self, restored: Tensor, target: Tensor) -> dict[str, float]:
        """Scores of one ``(1, C, H, W)`` output against its target."""
        if self.protocol.round_8bit:
            restored = quantize_8bit(restored)
        if self.own_luma:
            restored, target = luma(restored, self.protocol.round_y), luma(target, self.protocol.round_y)
        return {name: float(metric(restored, target.to(restored.dtype))[0]) for name, metric in self.metrics.items()}


@dataclass(frozen=True)
class Inference:
    """How models run: device, precision and tiling (``tile=None``: whole images unless the protocol tiles)."""

    device: torch.device
    precision: str = "fp32"
    tile: int | None = None
    overlap: int = 32
    tile_mode: str = "auto"


def run_model(model: EvalModel, item: EvalItem, protocol: EvalProtocol, how: Inference,
              steps: int | None = None) -> Tensor:
    """The restored ``(1, C, H, W)`` image on the CPU, in [0, 1], as the protocol runs models.

    Args:
        model: the model.
        item: the image.
        protocol: padding, tiling, self-ensemble and the adaptation step sizes.
        how: device, precision, tiling.
        steps: zero-shot adaptation steps before restoring (models with ``zero_shot``); ``None``: none.
    """
    tile = how.tile
    if tile is None and protocol.tiling == "exact" and model.info.exact_tiling:
        tile = EXACT_TILE
    if steps is not None:
        assert model.zero_shot is not None
        # Without a kernel MZSR's main.py falls back to bicubic: no blur, antialiased bicubic down-sampling.
        kernel = item.kernel if item.kernel is not None else torch.ones(1, 1)
        downsample = protocol.adaptation_downsample if item.kernel is not None else "bicubic"
        extra = {"lr": list(protocol.adaptation_lr)} if protocol.adaptation_lr else {}
        return model.zero_shot(model.model, item.lq[0], kernel, steps=steps, downsample=downsample, tile=tile,
                               tile_overlap=how.overlap, precision=how.precision, **extra)

    def forward(x: Tensor) -> Tensor:
        return restore_image(model.model, x, how.device, how.precision, tile, how.overlap,
                             how.tile_mode, multiple=protocol.pad_multiple)  # type: ignore[arg-type]

    return self_ensemble(forward, item.lq) if protocol.self_ensemble else forward(item.lq)


@contextlib.contextmanager
def no_tf32(enabled: bool = True) -> Iterator[None]:
    """Full float32 convolutions and matrix products on CUDA inside the block (when ``enabled``).

    PyTorch lets cuDNN run float32 convolutions in TF32 by default (10-bit mantissa products on
    Ampere and later); scores by a paper's protocol want the float32 they ask for.
    """
    if not enabled:
        yield
        return
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@contextlib.contextmanager
def threads(count: int | None) -> Iterator[None]:
    """``torch.set_num_threads(count)`` inside the block (nothing when ``None``), the previous count after it."""
    if count is None:
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def measured(work: Callable[[], Tensor], device: torch.device) -> tuple[Tensor, float, int | None]:
    """``work()``, its wall time in seconds and the peak memory while it ran, in bytes.

    The peak is the CUDA memory allocated on a GPU, the process's resident memory on the CPU
    (Linux: its high-water mark, reset before the call); ``None`` where it cannot be read.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    else:
        _reset_peak_rss()
    start = time.perf_counter()
    out = work()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return out, time.perf_counter() - start, torch.cuda.max_memory_allocated(device)
    return out, time.perf_counter() - start, _peak_rss()


def _reset_peak_rss() -> None:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        pass  # not Linux, or not allowed: the peak then spans the whole process


def _peak_rss() -> int | None:
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
