"""Restormer on images of any size: padding to 8, exact and overlapping tiles, the composed encoder + decoder."""

from __future__ import annotations

import pytest
import torch

import restorefw
from restorefw._tiling import tiled_forward
from restorefw.engine import restore_image
from restorefw.models import describe
from restorefw_restormer._streaming import forward_streamed

TINY = {"dim": 8, "num_blocks": [1, 1, 1, 1], "heads": [1, 1, 2, 2], "num_refinement_blocks": 1}


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    net = restorefw.create("model", "restormer", **TINY).eval()
    with torch.no_grad():  # non-trivial temperatures so attention is not uniform
        for name, p in net.named_parameters():
            if name.endswith("temperature"):
                p.uniform_(0.5, 2.0)
    return net


@pytest.mark.parametrize("size", [(37, 61), (8, 8), (64, 40)])
def test_any_size_returns_input_size(model, size):
    x = torch.rand(1, 3, *size)
    assert restore_image(model, x, torch.device("cpu")).shape == (1, 3, *size)


def test_tile_covering_image_equals_untiled(model):
    x = torch.rand(1, 3, 48, 56)
    whole = restore_image(model, x, torch.device("cpu"))
    tiled = restore_image(model, x, torch.device("cpu"), tile=64, overlap=16)
    assert torch.equal(whole, tiled)


def test_small_overlapping_tiles_stay_close_to_untiled(model):
    """MDTA pools attention statistics over its whole input, so overlapping tiles change the result.

    Stated bound, relative to the size of the model's residual r = max|f(x) - x| on a 96x80 image with
    32-px tiles and 16-px overlap (random tiny model; measured: max 0.18 = 0.50 r, mean 0.013 = 0.036 r):
    max |tiled - whole| <= 0.6 r and mean |tiled - whole| <= 0.05 r. Larger tiles only get closer.
    """
    torch.manual_seed(0)
    x = torch.rand(1, 3, 96, 80)
    with torch.inference_mode():
        whole = tiled_forward(model, x, tile=None, multiple=8)
        residual = (whole - x).abs().max().item()
        diffs = {}
        for tile, overlap in ((32, 16), (64, 32)):
            diff = (whole - tiled_forward(model, x, tile=tile, overlap=overlap, multiple=8, mode="overlap")).abs()
            diffs[tile] = (diff.max().item(), diff.mean().item())
            print(f"tile {tile}/{overlap}: max {diffs[tile][0]:.4f} mean {diffs[tile][1]:.4f} residual {residual:.4f}")
    assert 0 < diffs[32][0] <= 0.6 * residual and diffs[32][1] <= 0.05 * residual
    assert diffs[64][1] < diffs[32][1]


@pytest.mark.parametrize(
    "config",
    [TINY, {**TINY, "LayerNorm_type": "BiasFree", "bias": True, "num_blocks": [1, 2, 1, 2]},
     {**TINY, "dual_pixel_task": True, "inp_channels": 6}],
    ids=["with_bias", "bias_free", "dual_pixel"],
)
@pytest.mark.parametrize("pixels", [2 * 40, 9 * 40, 10**6], ids=["two_rows", "nine_rows", "whole"])
def test_streamed_forward_equals_forward(config, pixels):
    torch.manual_seed(1)
    net = restorefw.create("model", "restormer", **config).eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("temperature"):
                p.uniform_(0.5, 3.0)
    x = torch.rand(2, config.get("inp_channels", 3), 56, 40)
    before = x.clone()
    with torch.inference_mode():
        whole = net(x)
        streamed = forward_streamed(net, x, pixels)
    assert torch.equal(x, before)
    assert streamed.shape == whole.shape
    assert (streamed - whole).abs().max().item() <= 1e-5


def test_exact_tiles_have_no_seams(model):
    """With exact tiling the tile and overlap do not matter: the result is the untiled one."""
    x = torch.rand(1, 3, 93, 77)
    cpu = torch.device("cpu")
    whole = restore_image(model, x, cpu)
    results = [restore_image(model, x, cpu, tile=tile, overlap=overlap)
               for tile, overlap in ((16, 0), (32, 8), (32, 16))]
    for tiled in results:
        assert tiled.shape == whole.shape
        assert (tiled - whole).abs().max().item() <= 1e-5
    assert torch.equal(results[1], results[2])
    overlapping = restore_image(model, x, cpu, tile=32, overlap=16, tile_mode="overlap")
    assert (overlapping - whole).abs().max().item() > 1e-3


def test_exact_mode_needs_a_model_that_has_it():
    with pytest.raises(ValueError, match="has no exact tiling"):
        tiled_forward(lambda t: t, torch.rand(1, 3, 32, 32), tile=16, mode="exact")
    with pytest.raises(ValueError, match="tile mode must be one of"):
        tiled_forward(lambda t: t, torch.rand(1, 3, 32, 32), tile=16, mode="seamless")  # type: ignore[arg-type]


def test_composed_encoder_decoder_equals_whole(model):
    composed = restorefw.create("model", {"type": "encoder_decoder", "encoder": {"type": "restormer.encoder", **TINY},
                                          "decoder": {"type": "restormer.decoder", **TINY}})
    assert set(composed.state_dict()) == {f"encoder.{k}" for k in composed.encoder.state_dict()} | {
        f"decoder.{k}" for k in composed.decoder.state_dict()}
    state = model.state_dict()
    composed.encoder.load_state_dict({k: v for k, v in state.items() if k in composed.encoder.state_dict()})
    composed.decoder.load_state_dict({k: v for k, v in state.items() if k in composed.decoder.state_dict()})
    x = torch.rand(1, 3, 32, 40)
    with torch.no_grad():
        assert (composed.eval()(x) - model(x)).abs().max().item() == 0.0


def test_composed_parts_tile_exactly(model):
    composed = restorefw.create("model", {"type": "encoder_decoder", "encoder": {"type": "restormer.encoder", **TINY},
                                          "decoder": {"type": "restormer.decoder", **TINY}})
    state = model.state_dict()
    for part in (composed.encoder, composed.decoder):
        part.load_state_dict({k: v for k, v in state.items() if k in part.state_dict()})
    assert composed.exact_tiling and describe(composed).cpu_channels_last
    x = torch.rand(1, 3, 72, 56)
    cpu = torch.device("cpu")
    whole = restore_image(model, x, cpu)
    assert (restore_image(composed, x, cpu, tile=16, tile_mode="exact") - whole).abs().max().item() <= 1e-5


def test_incompatible_parts_error_names_both():
    spec = {"type": "encoder_decoder", "encoder": {"type": "restormer.encoder", **TINY},
            "decoder": {"type": "restormer.decoder", **{**TINY, "dim": 16}}}
    with pytest.raises(restorefw.ConfigError, match=r"RestormerEncoder.*\[8, 16, 32, 64\].*RestormerDecoder.*\[16, 32"
                       r".*encoder = 'restormer.encoder', decoder = 'restormer.decoder'"):
        restorefw.create("model", spec)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_cuda_autocast_and_channels_last(model, precision):
    device = torch.device("cuda")
    net = restorefw.create("model", "restormer", **TINY).to(device).to(memory_format=torch.channels_last)
    x = torch.rand(1, 3, 64, 64, device=device).to(memory_format=torch.channels_last)
    out = restore_image(net, x, device, precision)
    ref = restore_image(net, x, device, "fp32")
    assert (out - ref).abs().max().item() < 0.05


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_exact_tiling(model, precision):
    device = torch.device("cuda")
    net = restorefw.create("model", "restormer", **TINY).to(device)
    net.load_state_dict(model.state_dict())
    x = torch.rand(1, 3, 72, 64, device=device)
    whole = restore_image(net, x, device, precision)
    tiled = restore_image(net, x, device, precision, tile=16, tile_mode="exact")
    # cuDNN may use TF32 for fp32 convolutions, whose rounding differs between strips and the whole map.
    assert (tiled - whole).abs().max().item() < (1e-3 if precision == "fp32" else 0.05)
