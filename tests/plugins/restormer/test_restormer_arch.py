"""Architecture tests: official key layout and parameter counts, forward shapes, encoder/decoder split."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from restorefw.models import describe
from restorefw.nn import LayerNorm2d
from restorefw_restormer._arch import (
    LayerNorm,
    Restormer,
    RestormerConfig,
    build_restormer,
    build_restormer_decoder,
    build_restormer_encoder,
)

TINY = {"dim": 8, "num_blocks": [1, 1, 1, 1], "heads": [1, 1, 2, 2], "num_refinement_blocks": 1}

# fmt: off
TOP_LEVEL = [
    "patch_embed", "encoder_level1", "down1_2", "encoder_level2", "down2_3", "encoder_level3", "down3_4", "latent",
    "up4_3", "reduce_chan_level3", "decoder_level3", "up3_2", "reduce_chan_level2", "decoder_level2", "up2_1",
    "decoder_level1", "refinement", "output",
]

# Parameters per top-level module of the default model (official architecture).
MODULE_PARAMS = {
    "latent": 14_370_448, "encoder_level3": 2_738_112, "decoder_level3": 2_738_112, "up4_3": 2_654_208,
    "encoder_level2": 707_232, "decoder_level2": 707_232, "up3_2": 663_552, "decoder_level1": 471_484,
    "refinement": 471_484, "down3_4": 165_888, "up2_1": 165_888, "encoder_level1": 125_116,
    "reduce_chan_level3": 73_728, "down2_3": 41_472, "reduce_chan_level2": 18_432, "down1_2": 10_368,
    "output": 2_592, "patch_embed": 1_296,
}
# fmt: on

# The 11 keys of one WithBias block at decoder level 1, in sorted order, with their shapes.
BLOCK_KEYS = [
    ("attn.project_out.weight", (96, 96, 1, 1)),
    ("attn.qkv.weight", (288, 96, 1, 1)),
    ("attn.qkv_dwconv.weight", (288, 1, 3, 3)),
    ("attn.temperature", (1, 1, 1)),
    ("ffn.dwconv.weight", (510, 1, 3, 3)),
    ("ffn.project_in.weight", (510, 96, 1, 1)),
    ("ffn.project_out.weight", (96, 255, 1, 1)),
    ("norm1.body.bias", (96,)),
    ("norm1.body.weight", (96,)),
    ("norm2.body.bias", (96,)),
    ("norm2.body.weight", (96,)),
]


def _meta_model(**kwargs: Any) -> Restormer:
    with torch.device("meta"):
        return build_restormer(RestormerConfig(**kwargs))


@pytest.mark.parametrize(
    ("kwargs", "keys", "params"),
    [
        ({}, 494, 26_126_644),
        ({"LayerNorm_type": "BiasFree"}, 406, 26_111_668),
        ({"LayerNorm_type": "BiasFree", "inp_channels": 1, "out_channels": 1}, 406, 26_109_076),
        ({"inp_channels": 6, "dual_pixel_task": True}, 495, 26_132_548),
    ],
)
def test_official_key_and_parameter_counts(kwargs: dict[str, Any], keys: int, params: int) -> None:
    model = _meta_model(**kwargs)
    assert len(model.state_dict()) == keys
    assert sum(p.numel() for p in model.parameters()) == params


def test_top_level_names_and_example_keys() -> None:
    sd = _meta_model().state_dict()
    assert list(dict.fromkeys(k.split(".")[0] for k in sd)) == TOP_LEVEL
    for key in [
        "patch_embed.proj.weight",
        "encoder_level1.0.attn.temperature",
        "encoder_level1.0.attn.qkv_dwconv.weight",
        "down1_2.body.0.weight",
        "latent.7.ffn.project_out.weight",
        "reduce_chan_level3.weight",
        "refinement.3.norm2.body.bias",
        "output.weight",
    ]:
        assert key in sd
    assert "patch_embed.proj.bias" not in sd


def test_first_40_sorted_keys_and_shapes() -> None:
    sd = _meta_model().state_dict()
    expected = [(f"decoder_level1.{i}.{name}", shape) for i in range(4) for name, shape in BLOCK_KEYS][:40]
    assert [(k, tuple(sd[k].shape)) for k in sorted(sd)[:40]] == expected


def test_parameters_per_module() -> None:
    model = _meta_model()
    counts = {name: sum(p.numel() for p in module.parameters()) for name, module in model.named_children()}
    assert counts == MODULE_PARAMS


def test_temperature_shape_follows_heads() -> None:
    sd = _meta_model().state_dict()
    for level, heads in [("encoder_level1", 1), ("encoder_level2", 2), ("encoder_level3", 4), ("latent", 8)]:
        assert sd[f"{level}.0.attn.temperature"].shape == (heads, 1, 1)


@pytest.mark.parametrize("norm_type", ["WithBias", "BiasFree"])
def test_layer_norm_matches_reference(norm_type: str) -> None:
    torch.manual_seed(0)
    norm = LayerNorm(6, norm_type)  # type: ignore[arg-type]
    with torch.no_grad():
        for p in norm.parameters():
            p.normal_()
    x = torch.randn(2, 6, 5, 7)
    nhwc = x.permute(0, 2, 3, 1)
    mean, var = nhwc.mean(-1, keepdim=True), nhwc.var(-1, keepdim=True, unbiased=False)
    if norm_type == "WithBias":
        ref = (nhwc - mean) / torch.sqrt(var + 1e-5) * norm.body.weight + norm.body.bias
    else:
        ref = nhwc / torch.sqrt(var + 1e-5) * norm.body.weight
    torch.testing.assert_close(norm(x), ref.permute(0, 3, 1, 2))


def test_layer_norm_2d_matches_functional() -> None:
    norm = LayerNorm2d(6)
    x = torch.randn(2, 6, 5, 7)
    ref = F.layer_norm(x.permute(0, 2, 3, 1), (6,), norm.weight, norm.bias).permute(0, 3, 1, 2)
    torch.testing.assert_close(norm(x), ref)
    assert LayerNorm2d(6, bias=False).bias is None


@pytest.mark.parametrize(
    ("kwargs", "in_ch", "out_ch"),
    [(TINY, 3, 3), ({**TINY, "inp_channels": 6, "dual_pixel_task": True}, 6, 3)],
)
def test_tiny_forward_and_split_are_identical(kwargs: dict[str, Any], in_ch: int, out_ch: int) -> None:
    torch.manual_seed(0)
    model = build_restormer(RestormerConfig(**kwargs)).eval()
    x = torch.rand(1, in_ch, 32, 32)
    encoder, decoder = model.split()
    with torch.no_grad():
        whole = model(x)
        features = encoder(x)
        composed = decoder(features, x)
        rebuilt = Restormer.from_parts(encoder, decoder)(x)
    assert whole.shape == (1, out_ch, 32, 32)
    assert [f.shape[1] for f in features] == encoder.out_channels == decoder.in_channels
    assert (whole - composed).abs().max().item() == 0.0
    assert torch.equal(whole, rebuilt)


def test_split_shares_weights_and_keys() -> None:
    model = build_restormer(RestormerConfig(**TINY))
    encoder, decoder = model.split()
    assert set(encoder.state_dict()) | set(decoder.state_dict()) == set(model.state_dict())
    assert encoder.latent is model.latent and decoder.output is model.output
    with torch.no_grad():
        decoder.output.weight.zero_()
    assert model.output.weight.abs().sum() == 0


def test_parts_built_from_config_compose() -> None:
    cfg = RestormerConfig(**TINY)
    encoder, decoder = build_restormer_encoder(cfg), build_restormer_decoder(cfg)
    assert encoder.out_channels == decoder.in_channels == [8, 16, 32, 64]
    model = Restormer.from_parts(encoder, decoder)
    assert set(model.state_dict()) == set(build_restormer(cfg).state_dict())
    assert model(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16, 16)


def test_mismatched_parts_are_rejected() -> None:
    encoder = build_restormer_encoder(RestormerConfig(**TINY))
    decoder = build_restormer_decoder(RestormerConfig(**{**TINY, "dim": 16}))
    with pytest.raises(ValueError, match=r"\[8, 16, 32, 64\].*\[16, 32, 64, 128\]"):
        Restormer.from_parts(encoder, decoder)
    with pytest.raises(ValueError, match="expects 4 feature maps"):
        decoder([torch.zeros(1)], torch.zeros(1))


def test_model_attributes() -> None:
    model = build_restormer(RestormerConfig(**TINY))
    encoder, decoder = model.split()
    whole, enc, dec = describe(model), describe(encoder), describe(decoder)
    assert (whole.value_range, whole.scale, whole.size_multiple, whole.exact_tiling) == ((0.0, 1.0), 1, 8, True)
    assert (dec.value_range, dec.scale, dec.size_multiple, dec.out_channels) == ((0.0, 1.0), 1, 8, 3)
    assert enc.size_multiple == 8 and enc.cpu_channels_last
    assert whole.in_channels == enc.in_channels == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_blocks": [1, 1, 1]},
        {"heads": [1, 2, 4, 8, 8]},
        {"num_blocks": [1, 0, 1, 1]},
        {"dim": 6, "heads": [4, 2, 4, 8]},
        {"inp_channels": 6},
        {"unknown": 1},
        {"LayerNorm_type": "Other"},
        {"ffn_expansion_factor": 0.01, "dim": 8},
    ],
)
def test_invalid_configs_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RestormerConfig(**kwargs)
