"""The authors' Restormer state dicts, laid out by this test from their architecture, import into the catalog's
models: every catalogued checkpoint, at full size on the meta device, and tiny ones with random values."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor

from restorefw import Registry
from restorefw._builder import import_state
from restorefw.testing import check_weights
from restorefw.weights import load_into


def official_layout(inp_channels: int = 3, out_channels: int = 3, dim: int = 48,
                    num_blocks: tuple[int, ...] = (4, 6, 6, 8), num_refinement_blocks: int = 4,
                    heads: tuple[int, ...] = (1, 2, 4, 8), ffn_expansion_factor: float = 2.66, bias: bool = False,
                    LayerNorm_type: str = "WithBias", dual_pixel_task: bool = False,  # noqa: N803
                    device: str = "meta") -> dict[str, Tensor]:
    """Names and shapes of the authors' ``Restormer(...)`` state dict (basicsr/models/archs/restormer_arch.py),
    written out from their module tree: OverlapPatchEmbed (a 3x3 conv), TransformerBlock (LayerNorm, MDTA ``Attention``,
    GDFN ``FeedForward``), Downsample (conv to C/2, PixelUnshuffle), Upsample (conv to 2C, PixelShuffle)."""
    shapes: dict[str, tuple[int, ...]] = {"patch_embed.proj.weight": (dim, inp_channels, 3, 3)}

    def conv(name: str, out: int, inp: int, k: int, depthwise: bool = False, with_bias: bool = bias) -> None:
        shapes[f"{name}.weight"] = (out, 1 if depthwise else inp, k, k)
        if with_bias:
            shapes[f"{name}.bias"] = (out,)

    def blocks(prefix: str, count: int, channels: int, n_heads: int) -> None:
        hidden = int(channels * ffn_expansion_factor)
        for i in range(count):
            p = f"{prefix}.{i}"
            for norm in ("norm1", "norm2"):
                shapes[f"{p}.{norm}.body.weight"] = (channels,)
                if LayerNorm_type == "WithBias":
                    shapes[f"{p}.{norm}.body.bias"] = (channels,)
            shapes[f"{p}.attn.temperature"] = (n_heads, 1, 1)
            conv(f"{p}.attn.qkv", 3 * channels, channels, 1)
            conv(f"{p}.attn.qkv_dwconv", 3 * channels, channels, 3, depthwise=True)
            conv(f"{p}.attn.project_out", channels, channels, 1)
            conv(f"{p}.ffn.project_in", 2 * hidden, channels, 1)
            conv(f"{p}.ffn.dwconv", 2 * hidden, channels, 3, depthwise=True)
            conv(f"{p}.ffn.project_out", channels, hidden, 1)

    # Restormer.__init__ builds OverlapPatchEmbed(inp_channels, dim) without passing bias: never one there.
    widths = [dim, 2 * dim, 4 * dim, 8 * dim]
    for level, name in enumerate(("encoder_level1", "encoder_level2", "encoder_level3", "latent")):
        blocks(name, num_blocks[level], widths[level], heads[level])
        if level < 3:
            conv(f"down{level + 1}_{level + 2}.body.0", widths[level] // 2, widths[level], 3, with_bias=False)
    conv("up4_3.body.0", 2 * widths[3], widths[3], 3, with_bias=False)
    conv("reduce_chan_level3", widths[2], widths[3], 1)
    blocks("decoder_level3", num_blocks[2], widths[2], heads[2])
    conv("up3_2.body.0", 2 * widths[2], widths[2], 3, with_bias=False)
    conv("reduce_chan_level2", widths[1], widths[2], 1)
    blocks("decoder_level2", num_blocks[1], widths[1], heads[1])
    conv("up2_1.body.0", 2 * widths[1], widths[1], 3, with_bias=False)
    blocks("decoder_level1", num_blocks[0], widths[1], heads[0])
    blocks("refinement", num_refinement_blocks, widths[1], heads[0])
    if dual_pixel_task:
        conv("skip_conv", widths[1], dim, 1)
    conv("output", out_channels, widths[1], 3)
    return {name: torch.randn(shape, device=device) for name, shape in shapes.items()}


# The configurations of the authors' demo.py and test scripts, by checkpoint file.
AUTHORS_CONFIG: dict[str, dict[str, Any]] = {
    "motion_deblurring": {},
    "single_image_defocus_deblurring": {},
    "dual_pixel_defocus_deblurring": {"inp_channels": 6, "dual_pixel_task": True},
    "deraining": {},
    "real_denoising": {"LayerNorm_type": "BiasFree"},
    **{f"gaussian_color_denoising_{kind}": {"LayerNorm_type": "BiasFree"}
       for kind in ("blind", "sigma15", "sigma25", "sigma50")},
    **{f"gaussian_gray_denoising_{kind}": {"inp_channels": 1, "out_channels": 1, "LayerNorm_type": "BiasFree"}
       for kind in ("blind", "sigma15", "sigma25", "sigma50")},
}

# Key and parameter counts of the authors' module, measured by instantiating it.
OFFICIAL_SIZES = {"WithBias": (494, 26_126_644), "BiasFree": (406, 26_111_668), "grey": (406, 26_109_076),
                  "dual": (495, 26_132_548)}


def _size_class(config: dict[str, Any]) -> str:
    return "dual" if config.get("dual_pixel_task") else "grey" if config.get("inp_channels") == 1 else \
        config.get("LayerNorm_type", "WithBias")


def test_the_layout_is_the_authors() -> None:
    for config in ({}, {"LayerNorm_type": "BiasFree"}, AUTHORS_CONFIG["gaussian_gray_denoising_blind"],
                   AUTHORS_CONFIG["dual_pixel_defocus_deblurring"]):
        state = official_layout(**config)
        assert (len(state), sum(t.numel() for t in state.values())) == OFFICIAL_SIZES[_size_class(config)]


def test_the_catalog_lists_every_released_checkpoint(registry: Registry) -> None:
    names = {e.name.removeprefix("restormer/") for e in registry.weights.list("restormer/*")}
    assert names == set(AUTHORS_CONFIG)
    for name in names:
        assert registry.weights.get(f"restormer/{name}").files == (f"{name}.pth",)


@pytest.mark.parametrize("name", sorted(AUTHORS_CONFIG))
def test_each_catalogued_checkpoint_takes_the_authors_layout(registry: Registry, name: str) -> None:
    config = AUTHORS_CONFIG[name]
    model = check_weights(registry, f"restormer/{name}", official_layout(**config))
    keys, params = OFFICIAL_SIZES[_size_class(config)]
    assert (len(model.state_dict()), sum(p.numel() for p in model.parameters())) == (keys, params)


@pytest.mark.parametrize("config", [
    {},
    {"LayerNorm_type": "BiasFree", "bias": True},
    {"inp_channels": 1, "out_channels": 1, "LayerNorm_type": "BiasFree"},
    {"inp_channels": 6, "dual_pixel_task": True},
])
def test_the_importer_reads_the_authors_layout(registry: Registry, config: dict[str, Any]) -> None:
    tiny = {"dim": 8, "num_blocks": (1, 2, 1, 1), "num_refinement_blocks": 1, "heads": (1, 2, 2, 4),
            "ffn_expansion_factor": 2.66, **config}
    torch.manual_seed(0)
    state = official_layout(**tiny, device="cpu")
    spec, converted = import_state(state, registry)
    assert spec == {"type": "restormer", "out_channels": tiny.get("out_channels", 3), "bias": False,
                    "LayerNorm_type": "WithBias", "dual_pixel_task": False, **tiny,
                    "num_blocks": list(tiny["num_blocks"]), "heads": list(tiny["heads"]),
                    "inp_channels": tiny.get("inp_channels", 3)}
    model = registry.create("model", spec)
    load_into(model, converted, "the authors' layout")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
