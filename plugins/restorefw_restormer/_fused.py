"""Restormer's block-level ops: each half of a transformer block as one op, residual included.

``restormer.mdta_project`` is ``residual + project_out(mdta(qkv))`` and ``restormer.gdfn``
is ``residual + project_out(gate(dwconv(project_in(x))))``. Seen whole, both can skip
passes over the feature map that the layer-by-layer model makes:

* MDTA's output projection folds into its attention matrices (``W_out · A`` per image,
  a ``C x C`` product), so the values go through one GEMM instead of the attention
  matmul and then the 1x1 convolution, and the residual is that GEMM's accumulator.
* GDFN's GELU and gate run as oneDNN post-ops of the two halves of the depthwise
  convolution, and the residual as a post-op of the output projection: three passes
  over the hidden map instead of six, no separate residual addition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from restorefw import Register
from restorefw.ops import OpSample, Override, Reference, matmul_dtype, needs_grad, onednn_op_available
from restorefw_restormer._ops import (
    batched_addmm,
    gdfn_gate,
    gdfn_gate_inplace,
    is_nhwc,
    mdta,
    mdta_weights,
    split_qkv,
)

__all__ = [
    "gdfn",
    "gdfn_onednn",
    "gdfn_samples",
    "mdta_project",
    "mdta_project_folded",
    "mdta_project_samples",
    "onednn_fusion_available",
    "register_fused_ops",
]


def mdta_project(
    qkv: Tensor, temperature: Tensor, num_heads: int, weight: Tensor, bias: Tensor | None = None,
    residual: Tensor | None = None,
) -> Tensor:
    """``residual + conv1x1(mdta(qkv, temperature, num_heads), weight, bias)``; no residual when ``None``."""
    out = F.conv2d(mdta(qkv, temperature, num_heads), weight, bias)
    return out if residual is None else residual + out


def mdta_project_folded(
    qkv: Tensor, temperature: Tensor, num_heads: int, weight: Tensor, bias: Tensor | None = None,
    residual: Tensor | None = None,
) -> Tensor:
    """:func:`mdta_project` with the projection folded into the attention matrices.

    ``W_out (A v) = (W_out A) v``: one ``(C_out x C)`` matrix per image, applied to the
    values with the residual as the accumulator (``_ops.batched_addmm``). Channels-last maps stay
    channels-last (the values are read as a strided NHWC view); others are NCHW.
    """
    b, c3, h, w = qkv.shape
    nhwc, (queries, keys, values) = split_qkv(qkv)
    attention = mdta_weights(queries, keys, temperature, num_heads, nhwc)
    heads, d = attention.shape[1], attention.shape[-1]
    # W'[b, o, head, j] = sum_i W[o, head, i] A[b, head, i, j]
    folded = torch.einsum("ohi,bhij->bohj", weight.reshape(-1, heads, d).to(attention.dtype), attention)
    folded = folded.reshape(b, -1, heads * d).to(qkv.dtype)
    out_channels = folded.shape[1]
    # NHWC tokens (B, pixels, C) times W'^T, or W' times channel rows (B, C, pixels).
    matrix = folded.transpose(1, 2) if nhwc else folded
    base = _accumulator(residual, bias, b, out_channels, h, w, nhwc, qkv.dtype)
    tokens = batched_addmm(base, values, matrix) if nhwc else batched_addmm(base, matrix, values)
    if nhwc:
        return tokens.view(b, h, w, out_channels).permute(0, 3, 1, 2)
    return tokens.view(b, out_channels, h, w)


def _accumulator(
    residual: Tensor | None, bias: Tensor | None, b: int, channels: int, h: int, w: int, nhwc: bool,
    dtype: torch.dtype,
) -> Tensor | None:
    """What the projection adds to: residual and bias as ``(B, pixels, C)`` (NHWC) or ``(B, C, pixels)``."""
    if residual is None and bias is None:
        return None
    if residual is None:
        return (bias.to(dtype).view(1, 1, -1) if nhwc else bias.to(dtype).view(1, -1, 1)).expand(
            b, h * w if nhwc else channels, channels if nhwc else h * w)
    base = residual.permute(0, 2, 3, 1).reshape(b, h * w, channels) if nhwc else residual.reshape(b, channels, h * w)
    if bias is not None:
        base = base + (bias.view(1, 1, -1) if nhwc else bias.view(1, -1, 1))
    return base


def gdfn(
    x: Tensor, w_in: Tensor, b_in: Tensor | None, w_dw: Tensor, b_dw: Tensor | None, w_out: Tensor,
    b_out: Tensor | None, residual: Tensor | None = None,
) -> Tensor:
    """The whole GDFN: ``residual + conv1x1(gate(dwconv3x3(conv1x1(x, w_in), w_dw)), w_out)``.

    ``gate`` is :func:`restorefw_restormer._ops.gdfn_gate`; no residual when ``None``.
    """
    return _gdfn_with(gdfn_gate, x, w_in, b_in, w_dw, b_dw, w_out, b_out, residual)


def _gdfn_with(
    gate: Callable[[Tensor], Tensor], x: Tensor, w_in: Tensor, b_in: Tensor | None, w_dw: Tensor,
    b_dw: Tensor | None, w_out: Tensor, b_out: Tensor | None, residual: Tensor | None,
) -> Tensor:
    hidden = F.conv2d(F.conv2d(x, w_in, b_in), w_dw, b_dw, padding=1, groups=w_dw.shape[0])
    out = F.conv2d(gate(hidden), w_out, b_out)
    return out if residual is None else residual + out


def onednn_fusion_available() -> bool:
    """Whether this torch has oneDNN's convolutions with fused post-ops (``mkldnn::_convolution_pointwise``)."""
    return onednn_op_available("_convolution_pointwise")


def _fusable(x: Tensor, residual: Tensor | None, dtype: torch.dtype, *weights: Tensor | None) -> bool:
    """oneDNN's fused convolutions have no autograd, and want channels-last CPU maps in fp32 or bf16."""
    if x.device.type != "cpu" or x.dim() != 4 or dtype not in (torch.float32, torch.bfloat16):
        return False
    if needs_grad(x, residual, *weights):
        return False
    maps = (x,) if residual is None else (x, residual)
    # A map of one pixel (or one channel) is NCHW-contiguous too, and oneDNN's post-ops may
    # then see two layouts for one descriptor (torch 2.11 refused a 1x1 latent map): reference.
    return all(is_nhwc(m) for m in maps)


def gdfn_onednn(
    x: Tensor, w_in: Tensor, b_in: Tensor | None, w_dw: Tensor, b_dw: Tensor | None, w_out: Tensor,
    b_out: Tensor | None, residual: Tensor | None = None,
) -> Tensor:
    """:func:`gdfn` with GELU, gate and residual as oneDNN post-ops, on channels-last maps without autograd.

    ``project_in`` runs as two GEMMs, one per half of the hidden channels, so that each
    half is a dense map for its depthwise convolution: the first applies GELU on its
    output, the second multiplies its output by the first's. Maps and weights are cast to
    the dtype autocast would compute in (:func:`restorefw.ops.matmul_dtype`); a residual of
    another dtype is added after the GEMM, as autocast's promotion would. Other inputs take
    :func:`gdfn` with the in-place gate.
    """
    dtype = matmul_dtype(x)
    if not _fusable(x, residual, dtype, w_in, b_in, w_dw, b_dw, w_out, b_out):
        return _gdfn_with(gdfn_gate_inplace, x, w_in, b_in, w_dw, b_dw, w_out, b_out, residual)
    x, half = x.to(dtype), w_dw.shape[0] // 2
    w_in, b_in, w_dw, b_dw, w_out, b_out = (None if t is None else t.to(dtype)
                                            for t in (w_in, b_in, w_dw, b_dw, w_out, b_out))
    halves = [(w_in[s], None if b_in is None else b_in[s], w_dw[s], None if b_dw is None else b_dw[s])
              for s in (slice(0, half), slice(half, None))]
    conv = torch.ops.mkldnn._convolution_pointwise
    (wi1, bi1, wd1, bd1), (wi2, bi2, wd2, bd2) = halves
    gelu = conv(_conv1x1(x, wi1, bi1), wd1, bd1, [1, 1], [1, 1], [1, 1], half, "gelu", [], "none")
    gated = conv.binary(_conv1x1(x, wi2, bi2), gelu, wd2, bd2, [1, 1], [1, 1], [1, 1], half, "mul", None, None, [],
                        None)
    if residual is None or residual.dtype != dtype:
        out = _conv1x1(gated, w_out, b_out)
        return out if residual is None else residual + out
    return conv.binary(gated, residual, w_out, b_out, [0, 0], [1, 1], [1, 1], 1, "add", None, None, [], None)


def _conv1x1(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """A 1x1 convolution in ``x``'s dtype: oneDNN's, which autocast leaves alone."""
    return torch.ops.mkldnn._convolution_pointwise(x, weight, bias, [0, 0], [1, 1], [1, 1], 1, "none", [], None)


def mdta_project_samples(generator: torch.Generator) -> Iterator[OpSample]:
    """qkv maps, temperatures in [0.5, 2], projections with and without bias, residuals or ``None``."""
    for i, (batch, channels, heads, height, width) in enumerate([(2, 4, 1, 5, 5), (1, 8, 2, 4, 6), (1, 12, 3, 3, 3)]):
        g = {"generator": generator, "dtype": torch.float64}
        qkv = torch.randn((batch, 3 * channels, height, width), **g)
        temperature = 0.5 + 1.5 * torch.rand((heads, 1, 1), **g)
        weight = torch.randn((channels, channels, 1, 1), **g) / channels**0.5
        bias = torch.randn(channels, **g) if i % 2 else None
        residual = torch.randn((batch, channels, height, width), **g) if i < 2 else None
        yield OpSample((qkv, temperature, heads, weight, bias, residual))


def gdfn_samples(generator: torch.Generator) -> Iterator[OpSample]:
    """Feature maps and GDFN weights of a few widths, with and without biases and residuals."""
    for i, (batch, channels, hidden, height, width) in enumerate([(2, 4, 5, 5, 6), (1, 6, 3, 4, 4), (1, 3, 8, 1, 3)]):
        g = {"generator": generator, "dtype": torch.float64}
        biased = i % 2 == 1
        x = torch.randn((batch, channels, height, width), **g)
        w_in = torch.randn((2 * hidden, channels, 1, 1), **g) / channels**0.5
        w_dw = torch.randn((2 * hidden, 1, 3, 3), **g) / 3
        w_out = torch.randn((channels, hidden, 1, 1), **g) / hidden**0.5
        b_in, b_dw, b_out = ((torch.randn(n, **g) if biased else None) for n in (2 * hidden, 2 * hidden, channels))
        residual = torch.randn((batch, channels, height, width), **g) if i != 1 else None
        yield OpSample((x, w_in, b_in, w_dw, b_dw, w_out, b_out, residual))


def register_fused_ops(register: Register) -> None:
    """Register the block-level ops: references and CPU overrides."""
    register("restormer.mdta_project", Reference(mdta_project, mdta_project_samples),
             description="MDTA with its output projection and residual: residual + conv1x1(mdta(qkv))")
    register("restormer.mdta_project",
             Override("folded", mdta_project_folded, devices=("cpu",),
                      dtypes=(torch.float32, torch.float64, torch.bfloat16), priority=10),
             description="projection folded into the attention matrices: one GEMM on the values, residual added in it")
    register("restormer.gdfn", Reference(gdfn, gdfn_samples),
             description="the whole GDFN with its residual: residual + conv1x1(gate(dwconv(conv1x1(x))))")
    register("restormer.gdfn",
             Override("onednn", gdfn_onednn, devices=("cpu",), dtypes=(torch.float32, torch.bfloat16), priority=10,
                      available=onednn_fusion_available, requires="torch built with oneDNN (mkldnn)"),
             description="without autograd: GELU, gate and residual as oneDNN post-ops of the convolutions")
