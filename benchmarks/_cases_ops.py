"""Op cases: every CPU op override against its reference, and the machine's fp32 matmul peak."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from benchmarks._common import interleaved, matmul_gflops, result_row

__all__ = ["case_matmul_peak", "case_ops"]

Call = tuple[str, str, tuple[Any, ...], dict[str, Any]]
"""(case suffix, shape in words, args, kwargs) of one timed call."""


def _restormer_level1() -> dict[str, list[Call]]:
    """Representative calls: a default Restormer's level 1 on a 256² image (dim 48, 1 head, FFN 2.66)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 48, 256, 256, generator=g)
    weight, bias = torch.randn(48, generator=g), torch.randn(48, generator=g)
    qkv = torch.randn(1, 3 * 48, 256, 256, generator=g)
    gate = torch.randn(1, 2 * int(48 * 2.66), 256, 256, generator=g)
    cl = torch.channels_last
    x_cl, qkv_cl = x.contiguous(memory_format=cl), qkv.contiguous(memory_format=cl)
    project = torch.randn(48, 48, 1, 1, generator=g) / 48**0.5
    ffn = (torch.randn(254, 48, 1, 1, generator=g) / 48**0.5, None, torch.randn(254, 1, 3, 3, generator=g) / 3, None,
           torch.randn(48, 127, 1, 1, generator=g) / 127**0.5, None)
    return {
        "layernorm2d": [("contiguous", "1x48x256x256 contiguous", (x, weight, bias), {}),
                        ("channels_last", "1x48x256x256 channels_last",
                         (x.contiguous(memory_format=torch.channels_last), weight, bias), {})],
        "restormer.mdta": [("level1", "1x144x256x256, 1 head", (qkv, torch.ones(1, 1, 1), 1), {}),
                           ("level1_channels_last", "1x144x256x256 channels_last, 1 head",
                            (qkv.contiguous(memory_format=torch.channels_last), torch.ones(1, 1, 1), 1), {})],
        "restormer.gdfn_gate": [("level1", "1x254x256x256", (gate,), {})],
        "restormer.mdta_project": [("level1_channels_last", "qkv 1x144x256x256 channels_last, 1 head, residual",
                                    (qkv_cl, torch.ones(1, 1, 1), 1, project, None, x_cl), {})],
        "restormer.gdfn": [("level1_channels_last", "1x48x256x256 channels_last, hidden 127, residual",
                            (x_cl, *ffn, x_cl), {})],
    }


def _ipt_body() -> dict[str, list[Call]]:
    """Representative calls: the default IPT body (12 heads of 48, 256 tokens per 48² tile); one head of 576."""
    g = torch.Generator().manual_seed(0)

    def qkv(batch: int, heads: int, tokens: int, dim: int) -> tuple[Any, ...]:
        return (*(torch.randn(batch, heads, tokens, dim, generator=g) for _ in range(3)), 0.0)

    tokens = torch.randn(9, 256, 576, generator=g)
    mlp = (torch.randn(2304, 576, generator=g) / 24, torch.randn(2304, generator=g),
           torch.randn(576, 2304, generator=g) / 48, torch.randn(576, generator=g))
    return {
        "ipt.attention": [("body_b1", "1x12x256x48 (default body, one tile)", qkv(1, 12, 256, 48), {}),
                          ("body_b8", "8x12x256x48 (default body, 8 tiles)", qkv(8, 12, 256, 48), {}),
                          ("one_head", "1x1x144x576 (1 head)", qkv(1, 1, 144, 576), {})],
        "ipt.mlp": [("body_b9", "9x256x576 tokens (default body, 9 tiles), hidden 2304, residual",
                     (tokens, *mlp, tokens), {})],
    }


def _small(t: Any) -> Any:
    return t.float() if isinstance(t, torch.Tensor) and t.is_floating_point() else t


def _sample_calls(op: Any) -> list[Call]:
    """An op without a representative shape here: its own samples in float32 (shapes as registered)."""
    calls = []
    for i, sample in enumerate(op.samples(torch.Generator().manual_seed(0))):
        calls.append((f"sample{i}", f"sample {i}", tuple(_small(a) for a in sample.args),
                      {k: _small(v) for k, v in sample.kwargs.items()}))
    return calls


def _with_grad(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a.detach().clone().requires_grad_() if isinstance(a, torch.Tensor) and a.is_floating_point()
                 else a for a in args)


def _fwd_bwd(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[], Any]:
    leaves = _with_grad(args)

    def run() -> None:
        out = fn(*leaves, **kwargs)
        # sum() gives an all-ones output gradient: the backward pass is the same work as for a loss.
        out.sum().backward()
        for leaf in leaves:
            if isinstance(leaf, torch.Tensor):
                leaf.grad = None

    return run


def _max_diff(a: Any, b: Any) -> float:
    return (a - b).abs().max().item()


def _cpu_overrides(registry: Any) -> Iterable[tuple[Any, Any]]:
    for op in registry:
        usable = [impl for impl in op.overrides if impl.unusable("cpu", torch.float32) is None]
        if usable:
            yield op, usable[0]


def case_ops(quick: bool, threads: int) -> list[dict[str, Any]]:
    """Each op's CPU override (the one ``auto`` chooses) against its reference, forward and forward+backward."""
    from restorefw.ops import default_op_registry

    shapes = {**_restormer_level1(), **_ipt_body()}
    repeats = 2 if quick else 5
    rows = []
    for op, impl in _cpu_overrides(default_op_registry()):
        ref = op.reference.fn
        calls = shapes.get(op.name) or _sample_calls(op)
        if quick:
            calls = calls[:1]
        for suffix, label, args, kwargs in calls:
            with torch.no_grad():
                diff = _max_diff(impl.fn(*args, **kwargs), ref(*args, **kwargs))
            with torch.no_grad():
                fwd = interleaved({"restorefw": lambda: impl.fn(*args, **kwargs),
                                   "reference": lambda: ref(*args, **kwargs)}, repeats)
            both = interleaved({"restorefw": _fwd_bwd(impl.fn, args, kwargs),
                                "reference": _fwd_bwd(ref, args, kwargs)}, repeats)
            for mode, t in (("forward", fwd), ("forward_backward", both)):
                rows.append(result_row(f"op_{op.name}_{suffix}_{mode}", "s", t["restorefw"], t["reference"],
                                       override=impl.name, shape=label, max_abs_diff=diff, dtype="float32"))
    return rows


def case_matmul_peak(quick: bool, threads: int) -> list[dict[str, Any]]:
    """fp32 2048² matmul GFLOP/s on the configured threads; reference: the same on one thread.

    The ratio is the thread scaling: about the thread count on idle cores, less when other jobs share them.
    """
    configured = torch.get_num_threads()
    peak = matmul_gflops()
    single = matmul_gflops(1) if configured > 1 else peak
    return [result_row("matmul_peak", "GFLOP/s", peak, single, lower_is_better=False, size=2048,
                       threads=configured, reference_is="the same matmul on 1 thread")]
