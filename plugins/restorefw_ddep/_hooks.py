"""Registration of the DeP / DDeP strategies and the small UNet parts."""

from __future__ import annotations

from typing import Any

from restorefw import Register, hookimpl
from restorefw_ddep._strategy import DenoisingConfig, build_ddep, build_dep
from restorefw_ddep._unet import UNetConfig, UNetDecoder, UNetDecoderConfig, UNetEncoder

_LICENSE = "Apache-2.0"
_PAPER = ("Brempong et al., Denoising Pretraining for Semantic Segmentation, CVPRW 2022, "
          "arXiv:2205.11423")
_RANGE = "; images are mapped to [-1, 1] inside the strategy"


def _encoder(**params: Any) -> UNetEncoder:
    """Small UNet encoder: image → features at strides 1, 2, 4, ... (GroupNorm residual blocks)."""
    return UNetEncoder(**params)


def _decoder(**params: Any) -> UNetDecoder:
    """Small UNet decoder with skip connections: (features, image) → image (optional global residual)."""
    return UNetDecoder(**params)


@hookimpl
def register_models(register: Register) -> None:
    register("ddep.unet.encoder", _encoder, schema=UNetConfig, license=_LICENSE, part="encoder",
             description="small convolutional UNet encoder (GroupNorm), out_channels = widths")
    register("ddep.unet.decoder", _decoder, schema=UNetDecoderConfig, license=_LICENSE, part="decoder",
             description="small convolutional UNet decoder with skip connections, in_channels = widths")


@hookimpl
def register_strategies(register: Register) -> None:
    register("dep", build_dep, schema=DenoisingConfig, license=_LICENSE, paper=_PAPER,
             description="DeP: the whole model learns to predict the added noise (L2, one noise level)" + _RANGE)
    register("ddep", build_ddep, schema=DenoisingConfig, license=_LICENSE, paper=_PAPER,
             description="DDeP: encoder frozen, the decoder learns to predict the added noise" + _RANGE)
