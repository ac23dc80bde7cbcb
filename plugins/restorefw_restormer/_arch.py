"""Restormer: Efficient Transformer for High-Resolution Image Restoration.

Zamir et al., CVPR 2022. Paper: https://arxiv.org/abs/2111.09881.
Original repository: https://github.com/swz30/Restormer.

Licence note: this is a clean-room reimplementation written from the paper and the
published state-dict layout; no official code is used. The official code and weights
are under the Academic Public License (non-commercial); restorefw ships no weights,
users supply their own checkpoints.

Attribute names follow the official model, so official checkpoints load with
``strict=True``. The encoder and decoder halves are defined once, in two mixins; the
whole model inherits both, and :meth:`Restormer.split` / :meth:`Restormer.from_parts`
move the very same submodules between the whole model and its parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from pydantic import Field, PositiveInt, model_validator
from torch import Tensor, nn

from restorefw import StrictModel
from restorefw.models import ModelInfo
from restorefw.ops import OpsModule
from restorefw_restormer._layout import in_caller_layout, in_working_layout
from restorefw_restormer._streaming import forward_streamed

__all__ = [
    "Attention",
    "Downsample",
    "FeedForward",
    "LayerNorm",
    "OverlapPatchEmbed",
    "Restormer",
    "RestormerConfig",
    "RestormerDecoder",
    "RestormerEncoder",
    "TransformerBlock",
    "Upsample",
    "build_restormer",
    "build_restormer_decoder",
    "build_restormer_encoder",
]

LayerNormType = Literal["WithBias", "BiasFree"]

# Official top-level attribute names of each half, in the official registration order.
_ENCODER_NAMES = (
    "patch_embed", "encoder_level1", "down1_2", "encoder_level2", "down2_3", "encoder_level3", "down3_4", "latent"
)
_DECODER_NAMES = (
    "up4_3", "reduce_chan_level3", "decoder_level3", "up3_2", "reduce_chan_level2", "decoder_level2", "up2_1",
    "decoder_level1", "refinement", "skip_conv", "output"
)


# ---------------------------------------------------------------------------- blocks


class _NormBody(OpsModule):
    """Parameters of :class:`LayerNorm`; the official checkpoints store them under ``body``."""

    _layer_norm: Callable[..., Tensor]

    def __init__(self, dim: int, with_bias: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if with_bias else None
        self.use_op("_layer_norm", "layernorm2d")

    def forward(self, x: Tensor) -> Tensor:
        # The bias-free variant also drops the mean subtraction, as in the official denoisers.
        return self._layer_norm(x, self.weight, self.bias, center=self.bias is not None)


class LayerNorm(nn.Module):
    """Channel LayerNorm of Restormer, ``WithBias`` (centred, shifted) or ``BiasFree``."""

    def __init__(self, dim: int, norm_type: LayerNormType) -> None:
        super().__init__()
        self.body = _NormBody(dim, with_bias=norm_type == "WithBias")

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class FeedForward(OpsModule):
    """Gated-Dconv Feed-Forward Network (GDFN): ``gelu(x1) * x2`` after a depthwise 3x3.

    The whole network, with the block's residual, is the op ``restormer.gdfn``.
    """

    _gdfn: Callable[..., Tensor]

    def __init__(self, dim: int, ffn_expansion_factor: float, bias: bool) -> None:
        super().__init__()
        hidden = int(dim * ffn_expansion_factor)
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2, bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=bias)
        self.use_op("_gdfn", "restormer.gdfn")

    def forward(self, x: Tensor, residual: Tensor | None = None) -> Tensor:
        """``residual + GDFN(x)`` (``GDFN(x)`` without a residual)."""
        pin, dw, pout = self.project_in, self.dwconv, self.project_out
        return self._gdfn(x, pin.weight, pin.bias, dw.weight, dw.bias, pout.weight, pout.bias, residual)


class Attention(OpsModule):
    """Multi-Dconv head Transposed Attention (MDTA).

    Attention runs across channels (a ``C/heads`` square map per head), so the cost is
    linear in the number of pixels. The attention with its output projection and the
    block's residual is the op ``restormer.mdta_project`` (see ``restorefw_restormer._fused``),
    bound when the module is built or moved.
    """

    _mdta_project: Callable[..., Tensor]

    def __init__(self, dim: int, num_heads: int, bias: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, groups=dim * 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)
        self.use_op("_mdta_project", "restormer.mdta_project")

    def forward(self, x: Tensor, residual: Tensor | None = None) -> Tensor:
        """``residual + MDTA(x)`` (``MDTA(x)`` without a residual)."""
        qkv, out = self.qkv_dwconv(self.qkv(x)), self.project_out
        return self._mdta_project(qkv, self.temperature, self.num_heads, out.weight, out.bias, residual)


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + MDTA(norm1(x))`` then ``x + GDFN(norm2(x))``."""

    def __init__(
        self, dim: int, num_heads: int, ffn_expansion_factor: float, bias: bool, norm_type: LayerNormType
    ) -> None:
        super().__init__()
        self.norm1 = LayerNorm(dim, norm_type)
        self.attn = Attention(dim, num_heads, bias)
        self.norm2 = LayerNorm(dim, norm_type)
        self.ffn = FeedForward(dim, ffn_expansion_factor, bias)

    def forward(self, x: Tensor) -> Tensor:
        # The residual goes into each op, which adds it as part of its last GEMM or convolution.
        x = self.attn(self.norm1(x), residual=x)
        return self.ffn(self.norm2(x), residual=x)


class OverlapPatchEmbed(nn.Module):
    """3x3 convolution stem; never biased, whatever the model's ``bias`` (official layout)."""

    def __init__(self, in_channels: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


class Downsample(nn.Module):
    """Halve the resolution, double the channels: conv to ``C/2`` then PixelUnshuffle(2)."""

    def __init__(self, n_feat: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(n_feat, n_feat // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class Upsample(nn.Module):
    """Double the resolution, halve the channels: conv to ``2C`` then PixelShuffle(2)."""

    def __init__(self, n_feat: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(n_feat, n_feat * 2, 3, padding=1, bias=False), nn.PixelShuffle(2))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


def _stage(depth: int, dim: int, heads: int, ffn: float, bias: bool, norm_type: LayerNormType) -> nn.Sequential:
    return nn.Sequential(*(TransformerBlock(dim, heads, ffn, bias, norm_type) for _ in range(depth)))


def _feature_channels(dim: int, dual_pixel_task: bool) -> list[int]:
    # Dual-pixel models add the stem output, which the decoder feeds to ``skip_conv``.
    return [dim] * dual_pixel_task + [dim, dim * 2, dim * 4, dim * 8]


# ----------------------------------------------------------------------------- model


class _EncoderPath(nn.Module):
    """Encoder submodules and their forward, shared by the encoder and the whole model."""

    dim: int
    dual_pixel_task: bool

    def _build_encoder(
        self,
        inp_channels: int,
        dim: int,
        num_blocks: Sequence[int],
        heads: Sequence[int],
        ffn: float,
        bias: bool,
        norm_type: LayerNormType,
    ) -> None:
        self.patch_embed = OverlapPatchEmbed(inp_channels, dim)
        self.encoder_level1 = _stage(num_blocks[0], dim, heads[0], ffn, bias, norm_type)
        self.down1_2 = Downsample(dim)
        self.encoder_level2 = _stage(num_blocks[1], dim * 2, heads[1], ffn, bias, norm_type)
        self.down2_3 = Downsample(dim * 2)
        self.encoder_level3 = _stage(num_blocks[2], dim * 4, heads[2], ffn, bias, norm_type)
        self.down3_4 = Downsample(dim * 4)
        self.latent = _stage(num_blocks[3], dim * 8, heads[3], ffn, bias, norm_type)

    @property
    def model_info(self) -> ModelInfo:
        """Input side: image channels (3 RGB, 1 grey, 6 dual-pixel pairs), sizes in multiples of 8.

        Channels-last activations measured 1.4x faster on the CPU (docs/performance.md).
        """
        return ModelInfo(in_channels=self.patch_embed.proj.in_channels, size_multiple=8, cpu_channels_last=True)

    def _encode(self, x: Tensor) -> list[Tensor]:
        embedding = self.patch_embed(x)
        enc1 = self.encoder_level1(embedding)
        enc2 = self.encoder_level2(self.down1_2(enc1))
        enc3 = self.encoder_level3(self.down2_3(enc2))
        latent = self.latent(self.down3_4(enc3))
        return [embedding] * self.dual_pixel_task + [enc1, enc2, enc3, latent]


class _DecoderPath(nn.Module):
    """Decoder submodules and their forward, shared by the decoder and the whole model."""

    dim: int
    dual_pixel_task: bool

    def _build_decoder(
        self,
        out_channels: int,
        dim: int,
        num_blocks: Sequence[int],
        num_refinement_blocks: int,
        heads: Sequence[int],
        ffn: float,
        bias: bool,
        norm_type: LayerNormType,
    ) -> None:
        self.up4_3 = Upsample(dim * 8)
        self.reduce_chan_level3 = nn.Conv2d(dim * 8, dim * 4, 1, bias=bias)
        self.decoder_level3 = _stage(num_blocks[2], dim * 4, heads[2], ffn, bias, norm_type)
        self.up3_2 = Upsample(dim * 4)
        self.reduce_chan_level2 = nn.Conv2d(dim * 4, dim * 2, 1, bias=bias)
        self.decoder_level2 = _stage(num_blocks[1], dim * 2, heads[1], ffn, bias, norm_type)
        self.up2_1 = Upsample(dim * 2)
        # Level 1 keeps the 2*dim channels of the skip concatenation: there is no reduce_chan_level1.
        self.decoder_level1 = _stage(num_blocks[0], dim * 2, heads[0], ffn, bias, norm_type)
        self.refinement = _stage(num_refinement_blocks, dim * 2, heads[0], ffn, bias, norm_type)
        if self.dual_pixel_task:
            self.skip_conv = nn.Conv2d(dim, dim * 2, 1, bias=bias)
        self.output = nn.Conv2d(dim * 2, out_channels, 3, padding=1, bias=bias)

    def _decode(self, features: Sequence[Tensor], x: Tensor) -> Tensor:
        expected = len(_feature_channels(self.dim, self.dual_pixel_task))
        if len(features) != expected:
            raise ValueError(f"Restormer decoder expects {expected} feature maps, got {len(features)}")
        *embedding, enc1, enc2, enc3, latent = features
        dec3 = self.decoder_level3(self.reduce_chan_level3(torch.cat([self.up4_3(latent), enc3], 1)))
        dec2 = self.decoder_level2(self.reduce_chan_level2(torch.cat([self.up3_2(dec3), enc2], 1)))
        dec1 = self.refinement(self.decoder_level1(torch.cat([self.up2_1(dec2), enc1], 1)))
        if self.dual_pixel_task:
            # 6-channel dual-pixel input, 3-channel output: a feature skip replaces the image residual.
            return self.output(dec1 + self.skip_conv(embedding[0]))
        return self.output(dec1) + x


def _adopt(target: nn.Module, source: nn.Module, names: Sequence[str]) -> None:
    """Register ``source``'s submodules under the same names in ``target`` (shared, not copied)."""
    for name in names:
        if hasattr(source, name):
            setattr(target, name, getattr(source, name))


class RestormerEncoder(_EncoderPath):
    """Restormer encoder: image ``(B, C_in, H, W)`` to the multi-scale features the decoder takes.

    ``forward`` returns ``[enc1, enc2, enc3, latent]`` with :attr:`out_channels`
    ``[dim, 2dim, 4dim, 8dim]`` at strides 1, 2, 4, 8; dual-pixel encoders prepend the
    stem output (``dim`` channels). H and W must be multiples of 8.
    """

    def __init__(
        self,
        inp_channels: int = 3,
        dim: int = 48,
        num_blocks: Sequence[int] = (4, 6, 6, 8),
        heads: Sequence[int] = (1, 2, 4, 8),
        ffn_expansion_factor: float = 2.66,
        bias: bool = False,
        LayerNorm_type: LayerNormType = "WithBias",  # noqa: N803 (official name)
        dual_pixel_task: bool = False,
    ) -> None:
        super().__init__()
        self.dim, self.dual_pixel_task = dim, dual_pixel_task
        self.out_channels = _feature_channels(dim, dual_pixel_task)
        self._build_encoder(inp_channels, dim, num_blocks, heads, ffn_expansion_factor, bias, LayerNorm_type)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Encode ``x`` into multi-scale features (channels-last on the CPU)."""
        return self._encode(in_working_layout(x))


class RestormerDecoder(_DecoderPath):
    """Restormer decoder: features from :class:`RestormerEncoder` plus the input image to the output.

    :attr:`in_channels` lists the feature channels it expects, in order.
    """

    def __init__(
        self,
        out_channels: int = 3,
        dim: int = 48,
        num_blocks: Sequence[int] = (4, 6, 6, 8),
        num_refinement_blocks: int = 4,
        heads: Sequence[int] = (1, 2, 4, 8),
        ffn_expansion_factor: float = 2.66,
        bias: bool = False,
        LayerNorm_type: LayerNormType = "WithBias",  # noqa: N803 (official name)
        dual_pixel_task: bool = False,
    ) -> None:
        super().__init__()
        self.dim, self.dual_pixel_task = dim, dual_pixel_task
        self.in_channels = _feature_channels(dim, dual_pixel_task)
        self._build_decoder(
            out_channels, dim, num_blocks, num_refinement_blocks, heads, ffn_expansion_factor, bias, LayerNorm_type
        )

    def forward(self, features: Sequence[Tensor], x: Tensor) -> Tensor:
        """Decode ``features``; ``x`` (the input image) is added as the global residual.

        Dual-pixel decoders have no image residual (6 channels in, 3 out) and ignore ``x``.
        The output has the layout of ``x``.
        """
        inner = in_working_layout(x)
        return in_caller_layout(self._decode([in_working_layout(f) for f in features], inner), x)

    @property
    def model_info(self) -> ModelInfo:
        """Output side: image channels, sizes in multiples of 8, channels-last on the CPU."""
        return ModelInfo(out_channels=self.output.out_channels, size_multiple=8, cpu_channels_last=True)

    def exact_tiling_with(self, encoder: nn.Module) -> Callable[[Tensor, int], Tensor] | None:
        """Exact tiled inference of ``decoder(encoder(x), x)`` when ``encoder`` is a fitting Restormer encoder."""
        if not isinstance(encoder, RestormerEncoder) or encoder.out_channels != self.in_channels:
            return None
        return Restormer.from_parts(encoder, self).forward_tiled


class Restormer(_EncoderPath, _DecoderPath):
    """The whole Restormer, with the official top-level attribute names (494 keys by default).

    Arguments are those of :class:`RestormerConfig`; input H and W must be multiples of 8.
    """

    def __init__(
        self,
        inp_channels: int = 3,
        out_channels: int = 3,
        dim: int = 48,
        num_blocks: Sequence[int] = (4, 6, 6, 8),
        num_refinement_blocks: int = 4,
        heads: Sequence[int] = (1, 2, 4, 8),
        ffn_expansion_factor: float = 2.66,
        bias: bool = False,
        LayerNorm_type: LayerNormType = "WithBias",  # noqa: N803 (official name)
        dual_pixel_task: bool = False,
    ) -> None:
        super().__init__()
        self.dim, self.dual_pixel_task = dim, dual_pixel_task
        self._build_encoder(inp_channels, dim, num_blocks, heads, ffn_expansion_factor, bias, LayerNorm_type)
        self._build_decoder(
            out_channels, dim, num_blocks, num_refinement_blocks, heads, ffn_expansion_factor, bias, LayerNorm_type
        )

    @property
    def model_info(self) -> ModelInfo:
        """Image channels in and out, sizes in multiples of 8, channels-last on the CPU, exact tiling."""
        return ModelInfo(in_channels=self.patch_embed.proj.in_channels, out_channels=self.output.out_channels,
                         size_multiple=8, cpu_channels_last=True, exact_tiling=True)

    def forward(self, x: Tensor) -> Tensor:
        """Restore ``x`` of shape ``(B, C_in, H, W)`` in [0, 1]; the output has the layout of ``x``."""
        inner = in_working_layout(x)
        return in_caller_layout(self._decode(self._encode(inner), inner), x)

    def forward_tiled(self, x: Tensor, tile: int) -> Tensor:
        """Exact tiled inference: ``forward(x)`` up to float rounding, whatever the tile.

        Every layer runs over the whole image in strips of about ``tile²`` pixels, and MDTA
        gathers its statistics over all strips before applying them (see
        :mod:`restorefw_restormer._streaming`), so there are no seams. Runs without autograd.
        """
        return forward_streamed(self, x, tile * tile)

    def split(self) -> tuple[RestormerEncoder, RestormerDecoder]:
        """Return an encoder and a decoder that share this model's submodules and weights."""
        encoder = RestormerEncoder.__new__(RestormerEncoder)
        decoder = RestormerDecoder.__new__(RestormerDecoder)
        for part, names in ((encoder, _ENCODER_NAMES), (decoder, _DECODER_NAMES)):
            nn.Module.__init__(part)
            part.training, part.dim, part.dual_pixel_task = self.training, self.dim, self.dual_pixel_task
            _adopt(part, self, names)
        encoder.out_channels = _feature_channels(self.dim, self.dual_pixel_task)
        decoder.in_channels = _feature_channels(self.dim, self.dual_pixel_task)
        return encoder, decoder

    @classmethod
    def from_parts(cls, encoder: RestormerEncoder, decoder: RestormerDecoder) -> Restormer:
        """Assemble a whole model that shares the weights of ``encoder`` and ``decoder``.

        Raises:
            ValueError: the encoder's features do not fit the decoder.
        """
        if encoder.out_channels != decoder.in_channels:
            raise ValueError(
                f"Restormer encoder outputs features with channels {encoder.out_channels}, "
                f"but the decoder expects {decoder.in_channels}"
            )
        model = cls.__new__(cls)
        nn.Module.__init__(model)
        model.training, model.dim, model.dual_pixel_task = decoder.training, decoder.dim, decoder.dual_pixel_task
        _adopt(model, encoder, _ENCODER_NAMES)
        _adopt(model, decoder, _DECODER_NAMES)
        return model


# ---------------------------------------------------------------------------- config


class RestormerConfig(StrictModel):
    """Hyper-parameters of Restormer; field names are the official constructor's."""

    inp_channels: PositiveInt = 3
    out_channels: PositiveInt = 3
    dim: PositiveInt = 48
    num_blocks: list[PositiveInt] = Field(default_factory=lambda: [4, 6, 6, 8], min_length=4, max_length=4)
    num_refinement_blocks: int = Field(4, ge=0)
    heads: list[PositiveInt] = Field(default_factory=lambda: [1, 2, 4, 8], min_length=4, max_length=4)
    ffn_expansion_factor: float = Field(2.66, gt=0)
    bias: bool = False
    LayerNorm_type: LayerNormType = "WithBias"
    dual_pixel_task: bool = False

    @model_validator(mode="after")
    def _check_widths(self) -> RestormerConfig:
        for level, heads in enumerate(self.heads):
            width = self.dim * 2**level
            if width % heads:
                raise ValueError(f"dim * 2**{level} = {width} is not divisible by heads[{level}] = {heads}")
        if int(self.dim * self.ffn_expansion_factor) < 1:
            raise ValueError("ffn_expansion_factor is too small: the level-1 feed-forward would have no channels")
        if not self.dual_pixel_task and self.inp_channels != self.out_channels:
            raise ValueError("inp_channels must equal out_channels (global residual) unless dual_pixel_task")
        return self


# --------------------------------------------------------------------------- builders


def build_restormer(cfg: RestormerConfig) -> Restormer:
    """Build the whole Restormer from ``cfg``."""
    return Restormer(**cfg.model_dump())


def build_restormer_encoder(cfg: RestormerConfig) -> RestormerEncoder:
    """Build the encoder half; decoder-only fields of ``cfg`` are ignored."""
    return RestormerEncoder(**cfg.model_dump(exclude={"out_channels", "num_refinement_blocks"}))


def build_restormer_decoder(cfg: RestormerConfig) -> RestormerDecoder:
    """Build the decoder half; ``cfg.inp_channels`` is ignored."""
    return RestormerDecoder(**cfg.model_dump(exclude={"inp_channels"}))
