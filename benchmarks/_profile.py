"""Per-op profiles: torch.profiler self times grouped into kinds of work, with their share of the total.

Convolutions are split by what they cost: 1x1 convolutions are GEMMs (compute-bound),
depthwise 3x3 ones stream memory, dense 3x3 ones are the stem, the resampling and the
output layers. Everything else keeps its aten name (``gelu``, ``native_layer_norm``...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch.profiler import ProfilerActivity, profile

__all__ = ["op_kind", "profile_summary"]

_CONV_FORWARD = {"aten::mkldnn_convolution", "aten::_slow_conv2d_forward", "aten::thnn_conv2d",
                 "mkldnn::_convolution_pointwise"}
_CONV_BACKWARD = {"aten::convolution_backward", "aten::mkldnn_convolution_backward",
                  "aten::_slow_conv2d_backward"}
# Composite ops whose self time is bookkeeping: their kernels are counted under their children.
_COMPOSITE = {"aten::conv2d", "aten::convolution", "aten::_convolution", "aten::matmul", "aten::linear",
              "aten::layer_norm", "aten::softmax", "aten::contiguous", "aten::to", "aten::_to_copy",
              "aten::reshape", "aten::chunk", "aten::split", "aten::permute", "aten::view", "aten::as_strided",
              "aten::transpose", "aten::slice", "aten::unsqueeze", "aten::narrow",
              "aten::unflatten", "aten::t", "aten::expand", "aten::select"}


def _conv_kind(weight: Sequence[int]) -> str:
    if len(weight) != 4:
        return "conv (other)"
    out_channels, in_per_group, kh, kw = weight
    if in_per_group == 1 and out_channels > 1 and kh * kw > 1:
        return f"conv {kh}x{kw} depthwise"
    return f"conv {kh}x{kw}" if kh * kw > 1 else "conv 1x1 (GEMM)"


def op_kind(name: str, shapes: Sequence[Sequence[int]]) -> str:
    """The kind of work of one profiled op, from its name and input shapes."""
    if name in _CONV_FORWARD:
        # _convolution_pointwise.binary takes (input, other, weight, ...): the weight is the
        # first 4-D shape after the input whose second size differs from the input's channels.
        weights = [s for s in shapes[1:] if len(s) == 4]
        kind = _conv_kind(weights[-1] if name.startswith("mkldnn::") and weights else shapes[1])
        return kind + (" + fused op" if name.startswith("mkldnn::") else "")
    if name in _CONV_BACKWARD:
        return _conv_kind(shapes[2]) + " backward"
    if name in ("aten::bmm", "aten::mm", "aten::addmm", "aten::baddbmm"):
        return "matmul (bmm/mm)"
    return name.split("::", 1)[-1]


def profile_summary(fn: Callable[[], Any], top: int = 12) -> dict[str, Any]:
    """Profile one call of ``fn`` (after an untimed one) and return its top kinds of work.

    Returns:
        ``total_ms`` (the sum of the ops' self times, about the call's wall time) and
        ``top``: up to ``top`` rows ``{op, ms, share, calls}``, largest first, plus one
        ``other`` row for the rest.
    """
    fn()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        fn()
    kinds: dict[str, list[float]] = {}
    for event in prof.key_averages(group_by_input_shape=True):
        if event.key in _COMPOSITE:
            continue
        row = kinds.setdefault(op_kind(event.key, event.input_shapes or [[]]), [0.0, 0])
        row[0] += event.self_cpu_time_total / 1e3
        row[1] += event.count
    total = sum(ms for ms, _ in kinds.values())
    ranked = sorted(kinds.items(), key=lambda kv: -kv[1][0])
    rows = [{"op": k, "ms": round(ms, 1), "share": round(ms / total, 4), "calls": int(n)}
            for k, (ms, n) in ranked[:top]]
    rest = sum(ms for _, (ms, _n) in ranked[top:])
    if rest:
        rows.append({"op": "other", "ms": round(rest, 1), "share": round(rest / total, 4),
                     "calls": int(sum(n for _, (_ms, n) in ranked[top:]))})
    return {"total_ms": round(total, 1), "top": rows}
