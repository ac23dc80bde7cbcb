"""Registration of Restormer as a whole model and as encoder/decoder parts, and of its official checkpoints."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from restorefw import Register, hookimpl
from restorefw.hookspecs import RegisterWeights
from restorefw.weights import read_weights_table
from restorefw_restormer._arch import (
    Restormer,
    RestormerConfig,
    RestormerDecoder,
    RestormerEncoder,
    build_restormer_decoder,
    build_restormer_encoder,
)
from restorefw_restormer._convert import IMPORTER
from restorefw_restormer._fused import register_fused_ops
from restorefw_restormer._ops import register_restormer_ops

_LICENSE = "Apache-2.0 (clean-room code); official weights: Academic Public License"
_PAPER = "Zamir et al., Restormer, CVPR 2022, arXiv:2111.09881"


# The registry has validated the parameters with RestormerConfig already: construct, don't re-validate.
def _encoder(**params: Any) -> RestormerEncoder:
    """Restormer encoder half: image → features [level1, level2, level3, latent]."""
    return build_restormer_encoder(RestormerConfig.model_construct(**params))


def _decoder(**params: Any) -> RestormerDecoder:
    """Restormer decoder half: (features, image) → restored image (global residual)."""
    return build_restormer_decoder(RestormerConfig.model_construct(**params))


@hookimpl
def register_models(register: Register) -> None:
    register("restormer", Restormer, schema=RestormerConfig, license=_LICENSE, paper=_PAPER, importer=IMPORTER,
             description="Restormer (MDTA + GDFN U-Net transformer) with the official state-dict names")
    register("restormer.encoder", _encoder, schema=RestormerConfig, license=_LICENSE, paper=_PAPER, part="encoder")
    register("restormer.decoder", _decoder, schema=RestormerConfig, license=_LICENSE, paper=_PAPER, part="decoder")


@hookimpl
def register_ops(register: Register) -> None:
    register_restormer_ops(register)
    register_fused_ops(register)


@hookimpl
def register_weights(register: RegisterWeights) -> None:
    for entry in read_weights_table(files("restorefw_restormer") / "weights.toml"):
        register(entry)
