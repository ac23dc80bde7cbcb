"""Restormer's ops: MDTA attention and the GDFN gate, references and CPU overrides.

``restormer.mdta`` takes the depthwise-convolved ``qkv`` map ``(B, 3C, H, W)``, the
per-head temperature ``(heads, 1, 1)`` and the head count, and returns the attended
values ``(B, C, H, W)`` (before ``project_out``). ``restormer.gdfn_gate`` maps
``(B, 2h, H, W)`` to ``gelu(x1) * x2`` of its two channel halves.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from restorefw import Register
from restorefw.ops import OpSample, Override, Reference, needs_grad

__all__ = [
    "batched_addmm",
    "gdfn_gate",
    "gdfn_gate_inplace",
    "is_nhwc",
    "mdta",
    "mdta_scaled",
    "mdta_weights",
    "nhwc_attend",
    "nhwc_heads",
    "nhwc_square_sums",
    "register_restormer_ops",
    "split_qkv",
]

_CPU_DTYPES = (torch.float32, torch.float64, torch.bfloat16)


def _heads(qkv: Tensor, num_heads: int) -> tuple[Tensor, Tensor, Tensor]:
    b, c3, h, w = qkv.shape
    q, k, v = (t.reshape(b, num_heads, c3 // 3 // num_heads, h * w) for t in qkv.chunk(3, dim=1))
    return q, k, v


def mdta(qkv: Tensor, temperature: Tensor, num_heads: int) -> Tensor:
    """Transposed attention across channels: ``softmax(q̂ k̂ᵀ · temperature) v`` per head."""
    q, k, v = _heads(qkv, num_heads)
    # Unit-norm rows make q @ k^T a cosine similarity; the temperature sets its sharpness.
    q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    attn = ((q @ k.transpose(-2, -1)) * temperature).softmax(dim=-1)
    b, _, h, w = qkv.shape
    return (attn @ v).reshape(b, -1, h, w)


def mdta_scaled(qkv: Tensor, temperature: Tensor, num_heads: int) -> Tensor:
    """:func:`mdta` with the norms and temperature applied to the small score matrix.

    Dividing the ``(C/heads)²`` scores by ``|q| |k|`` equals normalising q and k, without
    two temporaries of the size of the image. Raw dot products over ``H·W`` pixels can
    exceed float16's range, hence no float16 (and no CUDA, where autocast gives float16).
    """
    b, _, h, w = qkv.shape
    nhwc, (q, k, v) = split_qkv(qkv)
    weights = mdta_weights(q, k, temperature, num_heads, nhwc)
    if nhwc:
        return nhwc_attend(v.unflatten(-1, (num_heads, -1)).transpose(1, 2), weights, h, w)
    return (weights @ v.reshape(b, num_heads, -1, h * w).contiguous()).reshape(b, -1, h, w)


def split_qkv(qkv: Tensor) -> tuple[bool, tuple[Tensor, ...]]:
    """q, k and v of a ``(B, 3C, H, W)`` map as one split (one autograd node: one pass for the gradients).

    Returns whether they are NHWC tokens ``(B, H·W, C)`` (strided views of a channels-last
    map, nothing copied) or channel rows ``(B, C, H·W)``, and the three parts.
    """
    b, c3, h, w = qkv.shape
    if is_nhwc(qkv):
        return True, qkv.permute(0, 2, 3, 1).reshape(b, h * w, c3).split(c3 // 3, dim=-1)
    return False, qkv.reshape(b, c3, h * w).split(c3 // 3, dim=1)


def mdta_weights(q: Tensor, k: Tensor, temperature: Tensor, num_heads: int, nhwc: bool) -> Tensor:
    """The per-head attention matrices ``softmax(q̂ k̂ᵀ · temperature)``: ``(B, heads, C/heads, C/heads)``.

    ``q`` and ``k`` come from :func:`split_qkv`. The norms divide the small score matrix,
    not q and k; NHWC tokens are read in place (BLAS takes the pixel axis as the leading
    dimension).
    """
    if q.dtype == torch.float16:
        # Raw dot products over H·W pixels overflow float16: the scores are taken in float32.
        with torch.autocast(q.device.type, enabled=False):
            return mdta_weights(q.float(), k.float(), temperature.float(), num_heads, nhwc).half()
    b = q.shape[0]
    if nhwc:
        # F.normalize divides by max(norm, 1e-12); the same clamp keeps zero rows finite.
        q_norm, k_norm = (t.square().sum(1).sqrt().clamp_min(1e-12).view(b, num_heads, -1) for t in (q, k))
        if needs_grad(q, k):
            q, k = (t.unflatten(-1, (num_heads, -1)).transpose(1, 2) for t in (q, k))
            scores = q.transpose(-2, -1) @ k
        else:
            scores = _head_grams(q, k, num_heads)
        return (scores * (temperature / (q_norm.unsqueeze(-1) * k_norm.unsqueeze(-2)))).softmax(dim=-1)
    # Batched matmuls on the per-head views of a multi-image batch take a slow strided path;
    # one copy each is cheaper (and free for a single image, whose views are contiguous).
    q, k = (t.reshape(b, num_heads, -1, t.shape[-1]).contiguous() for t in (q, k))
    q_norm = torch.linalg.vector_norm(q, dim=-1, keepdim=True).clamp_min(1e-12)
    k_norm = torch.linalg.vector_norm(k, dim=-1, keepdim=True).clamp_min(1e-12)
    scale = temperature / (q_norm * k_norm.transpose(-2, -1))
    return ((q @ k.transpose(-2, -1)) * scale).softmax(dim=-1)


def _head_grams(q: Tensor, k: Tensor, num_heads: int) -> Tensor:
    """``q_hᵀ k_h`` per image and head of NHWC tokens ``(B, H·W, C)``: ``(B, heads, C/heads, C/heads)``.

    One 2-D GEMM each on the strided views: BLAS reads them in place, where a batched
    ``bmm`` copies bf16 operands first (about twice the time at level 1 of a 256² image).
    """
    b, _, c = q.shape
    d = c // num_heads
    out = q.new_empty(b, num_heads, d, d)
    for i in range(b):
        for j in range(num_heads):
            cols = slice(j * d, (j + 1) * d)
            torch.mm(q[i, :, cols].t(), k[i, :, cols], out=out[i, j])
    return out


def batched_addmm(base: Tensor | None, a: Tensor, b: Tensor) -> Tensor:
    """``base + a @ b`` for ``(B, m, k)`` by ``(B, k, n)`` (``a @ b`` when ``base`` is ``None``).

    With autograd one ``baddbmm`` (one node). Without, one 2-D GEMM per image in ``a``'s
    dtype: BLAS reads strided operands in place and accumulates onto the base, where 3-D
    ``baddbmm`` is 1.6x slower in fp32 and copies bf16 operands.
    """
    if needs_grad(base, a, b):
        return torch.bmm(a, b) if base is None else torch.baddbmm(base, a, b)
    b_ = b.to(a.dtype)
    out = a.new_empty(a.shape[0], a.shape[1], b.shape[2])
    for i in range(a.shape[0]):
        if base is None:
            torch.mm(a[i], b_[i], out=out[i])
        else:
            torch.addmm(base[i].to(a.dtype), a[i], b_[i], out=out[i])
    return out


def is_nhwc(x: Tensor) -> bool:
    """Channels-last and not also NCHW-contiguous (a map with one channel or one pixel is both)."""
    return x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def nhwc_heads(x: Tensor, num_heads: int, parts: int) -> list[Tensor]:
    """Views ``(B, heads, H·W, C/heads)`` of the ``parts`` equal channel groups of ``x``.

    On a channels-last map nothing is copied: BLAS reads the pixel axis of the views as a
    leading dimension.
    """
    b, channels, h, w = x.shape
    c = channels // parts
    tokens = x.permute(0, 2, 3, 1).reshape(b, h * w, channels)
    return [tokens[..., i * c : (i + 1) * c].unflatten(-1, (num_heads, c // num_heads)).transpose(1, 2)
            for i in range(parts)]


def nhwc_square_sums(x: Tensor, channels: int) -> Tensor:
    """Sum over the pixels of the squares of the first ``channels`` channels: ``(B, channels)``."""
    b, total, h, w = x.shape
    # One strided reduction for all channels at once: on NHWC memory these are the slow part.
    return x.permute(0, 2, 3, 1).reshape(b, h * w, total)[..., :channels].square().sum(1)


def nhwc_attend(v: Tensor, weights: Tensor, height: int, width: int) -> Tensor:
    """``weights @ v`` per head, for ``v`` from :func:`nhwc_heads`; a channels-last ``(B, C, H, W)`` map."""
    out = v @ weights.transpose(-2, -1)
    b, heads, _, d = out.shape
    return out.transpose(1, 2).reshape(b, height, width, heads * d).permute(0, 3, 1, 2)


def gdfn_gate(x: Tensor) -> Tensor:
    """GDFN gating: ``gelu(x1) * x2`` of the two channel halves of ``x``."""
    x1, x2 = x.chunk(2, dim=1)
    return F.gelu(x1) * x2


def gdfn_gate_inplace(x: Tensor) -> Tensor:
    """:func:`gdfn_gate` multiplying into the GELU output when no gradient is needed."""
    if needs_grad(x):
        return gdfn_gate(x)
    x1, x2 = x.chunk(2, dim=1)
    return F.gelu(x1).mul_(x2)


def mdta_samples(generator: torch.Generator) -> Iterator[OpSample]:
    """qkv maps of a few shapes and head counts, temperatures in [0.5, 2]."""
    for batch, channels, heads, height, width in [(2, 4, 1, 5, 5), (1, 8, 2, 4, 6), (1, 12, 3, 3, 3)]:
        qkv = torch.randn((batch, 3 * channels, height, width), generator=generator, dtype=torch.float64)
        temperature = 0.5 + 1.5 * torch.rand((heads, 1, 1), generator=generator, dtype=torch.float64)
        yield OpSample((qkv, temperature, heads))


def gdfn_gate_samples(generator: torch.Generator) -> Iterator[OpSample]:
    """Feature maps of a few shapes (an even channel count)."""
    for shape in [(2, 6, 4, 5), (1, 10, 3, 7), (1, 2, 1, 1)]:
        yield OpSample((2 * torch.randn(shape, generator=generator, dtype=torch.float64),))


def register_restormer_ops(register: Register) -> None:
    """Register the references and the CPU overrides."""
    register("restormer.mdta", Reference(mdta, mdta_samples),
             description="MDTA: per-head softmax(norm(q) norm(k)^T * temperature) v across channels")
    register("restormer.mdta", Override("scaled", mdta_scaled, devices=("cpu",), dtypes=_CPU_DTYPES, priority=10),
             description="norms and temperature folded into the (C/heads)² score matrix")
    register("restormer.gdfn_gate", Reference(gdfn_gate, gdfn_gate_samples),
             description="GDFN gate: gelu(x1) * x2 of the two channel halves")
    register("restormer.gdfn_gate", Override("inplace", gdfn_gate_inplace, devices=("cpu", "cuda"), priority=10),
             description="without autograd, multiplies into the GELU output (one temporary fewer)")
