"""The UNet parts pass the conformance kit and compose with each other and the core."""

from __future__ import annotations

import pytest
import torch

from restorefw import ConfigError, RecipeError
from restorefw.models import describe
from restorefw.testing import check_model

SMALL = {"widths": [8, 16, 24], "groups": 4}


def test_unet_parts_follow_the_model_contract(registry) -> None:
    encoder = check_model(registry, {"type": "ddep.unet.encoder", **SMALL})
    assert encoder.out_channels == [8, 16, 24] and describe(encoder).size_multiple == 4
    features = encoder(torch.rand(1, 3, 16, 16))
    assert [f.shape[1] for f in features] == [8, 16, 24] and [f.shape[-1] for f in features] == [16, 8, 4]
    check_model(registry, {"type": "ddep.unet.decoder", **SMALL}, encoder_spec={"type": "ddep.unet.encoder", **SMALL})
    check_model(registry, {"type": "encoder_decoder", "encoder": {"type": "ddep.unet.encoder", **SMALL},
                           "decoder": {"type": "ddep.unet.decoder", **SMALL, "global_residual": False}})


def test_unet_config_and_part_mismatches(registry) -> None:
    with pytest.raises(RecipeError, match="multiple of groups"):
        registry.resolve("model", {"type": "ddep.unet.encoder", "widths": [8, 12]}, "model.encoder")
    with pytest.raises(ConfigError, match=r"UNetEncoder .*\[8, 16, 24\].*UNetDecoder .*\[8, 16\]"):
        registry.create("model", {"type": "encoder_decoder", "encoder": {"type": "ddep.unet.encoder", **SMALL},
                                  "decoder": {"type": "ddep.unet.decoder", "widths": [8, 16], "groups": 4}})
