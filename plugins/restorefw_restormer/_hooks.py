"""Registration of Restormer as a whole model and as encoder/decoder parts."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from restorefw import hookimpl
from restorefw.hookspecs import Register
from restorefw_restormer._arch import (
    Restormer,
    RestormerConfig,
    RestormerDecoder,
    RestormerEncoder,
    build_restormer,
    build_restormer_decoder,
    build_restormer_encoder,
)
from restorefw_restormer._convert import infer_config
from restorefw_restormer._fused import register_fused_ops
from restorefw_restormer._ops import register_restormer_ops

_LICENSE = "Apache-2.0 (clean-room code); official weights: Academic Public License"
_PAPER = "Zamir et al., Restormer, CVPR 2022, arXiv:2111.09881"


def _whole(**params: Any) -> Restormer:
    """Restormer (MDTA + GDFN U-Net transformer) with the official state-dict names."""
    return build_restormer(RestormerConfig(**params))


def _encoder(**params: Any) -> RestormerEncoder:
    """Restormer encoder half: image → features [level1, level2, level3, latent]."""
    return build_restormer_encoder(RestormerConfig(**params))


def _decoder(**params: Any) -> RestormerDecoder:
    """Restormer decoder half: (features, image) → restored image (global residual)."""
    return build_restormer_decoder(RestormerConfig(**params))


def infer_spec(state: dict[str, Tensor]) -> dict[str, Any] | None:
    """Restormer config from an official (or restorefw) state dict; None if not a Restormer.

    Raises:
        CheckpointError: the keys look like a Restormer but are inconsistent (names what is wrong).
    """
    if not any(k.startswith(("patch_embed.proj.", "latent.")) for k in state):
        return None
    return infer_config(state).model_dump()


@hookimpl
def register_models(register: Register) -> None:
    register("restormer", _whole, schema=RestormerConfig, license=_LICENSE, paper=_PAPER,
             tags={"infer_spec": infer_spec})
    register("restormer.encoder", _encoder, schema=RestormerConfig, license=_LICENSE, paper=_PAPER,
             tags={"part": "encoder"})
    register("restormer.decoder", _decoder, schema=RestormerConfig, license=_LICENSE, paper=_PAPER,
             tags={"part": "decoder"})


@hookimpl
def register_ops(register: Register) -> None:
    register_restormer_ops(register)
    register_fused_ops(register)
