"""restorefw_ddep: denoising pretraining (DeP) and decoder denoising pretraining (DDeP).

Paper: Brempong et al., "Denoising Pretraining for Semantic Segmentation", CVPR
Workshops 2022, pp. 4175-4186; arXiv 2205.11423 (https://arxiv.org/abs/2205.11423),
also published in TMLR 2022.

The paper releases no code. The only public implementation is the unofficial
``bwconrad/decoder-denoising`` (MIT licence); its conventions are followed where
the paper's own values could not be checked: pixels mapped to [-1, 1], scaled
additive noise ``(x + σε) / √(1 + σ²)``, the network predicting ε with an L2
loss, one fixed noise level (σ = 0.22 for both DeP and DDeP). This package is a
clean-room implementation written from those descriptions; no code was taken
from that repository. The paper's own noise levels are not verified, which is
why ``sigma`` (or ``gamma``) has no default.

Registered components (entry-point group ``restorefw``):

- strategies ``dep`` (the whole model pretrained as a denoiser) and ``ddep``
  (encoder frozen, decoder pretrained as a denoiser);
- models ``ddep.unet.encoder`` and ``ddep.unet.decoder``: a small convolutional
  UNet split into parts that compose with ``encoder_decoder``.
"""

from __future__ import annotations

from restorefw_ddep._hooks import register_models, register_strategies
from restorefw_ddep._noise import NoiseLevel, gamma_to_sigma, sigma_to_gamma, to_signed_range
from restorefw_ddep._strategy import DenoisingConfig, DenoisingPretraining, build_ddep, build_dep, probe_residual
from restorefw_ddep._unet import UNetConfig, UNetDecoder, UNetDecoderConfig, UNetEncoder

__all__ = [
    "DenoisingConfig",
    "DenoisingPretraining",
    "NoiseLevel",
    "UNetConfig",
    "UNetDecoder",
    "UNetDecoderConfig",
    "UNetEncoder",
    "build_ddep",
    "build_dep",
    "gamma_to_sigma",
    "probe_residual",
    "register_models",
    "register_strategies",
    "sigma_to_gamma",
    "to_signed_range",
]
