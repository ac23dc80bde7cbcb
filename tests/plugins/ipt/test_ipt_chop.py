"""Full-image inference through the overlapped chop, and the x8 self-ensemble."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from restorefw.engine import restore_image
from restorefw_ipt import IPT, IPTConfig, chop_forward, self_ensemble

TINY = {"n_feats": 8, "num_heads": 2, "num_layers": 1}


def _nearest(scale: int):
    return lambda t: F.interpolate(t, scale_factor=scale, mode="nearest") if scale > 1 else t.clone()


@pytest.mark.parametrize("size", [(48, 48), (100, 77), (20, 130)])
@pytest.mark.parametrize(("stride", "margin"), [(12, 12), (36, 6), (48, 0)])
def test_identity_through_the_chop_gives_the_image_back(size: tuple[int, int], stride: int, margin: int) -> None:
    x = torch.rand(2, 3, *size, dtype=torch.float64)
    out = chop_forward(_nearest(1), x, 48, stride, margin, batch=5)
    assert out.shape == x.shape
    assert (out - x).abs().max() < 1e-5


@pytest.mark.parametrize("scale", [2, 3])
def test_scaled_identity_through_the_chop(scale: int) -> None:
    x = torch.rand(1, 3, 100, 77)
    out = chop_forward(_nearest(scale), x, 48, 12, 12, scale)
    assert (out - F.interpolate(x, scale_factor=scale, mode="nearest")).abs().max() < 1e-5


def test_chop_rejects_gaps_between_kept_centres() -> None:
    with pytest.raises(ValueError, match="stride <= patch - 2"):
        chop_forward(_nearest(1), torch.rand(1, 3, 64, 64), 48, 30, 12)


@pytest.fixture(scope="module")
def tiny() -> IPT:
    torch.manual_seed(0)
    return IPT(IPTConfig(**TINY, scales=[2])).eval()


def test_chop_of_a_real_ipt_matches_the_direct_forward_on_one_tile(tiny: IPT) -> None:
    x = torch.rand(2, 3, 48, 48)
    with torch.no_grad():
        direct = tiny.forward_patch(x, 0)
        chopped = chop_forward(lambda t: tiny.forward_patch(t, 0), x, 48, 12, 12, 2)
        assert torch.allclose(tiny(x), direct) and torch.allclose(chopped, direct, atol=1e-6)


def test_any_size_through_the_model_and_the_engine(tiny: IPT) -> None:
    x = torch.rand(1, 3, 61, 50)
    restored = restore_image(tiny, x, torch.device("cpu"))
    assert restored.shape == (1, 3, 122, 100)
    with torch.no_grad():  # the border tiles sit flush with the image: the corner is the top-left tile's
        corner = tiny.forward_patch(x[..., :48, :48], 0)[..., :24, :24]
    assert torch.allclose(restored[..., :24, :24], corner.clamp(0, 1), atol=1e-5)


def test_self_ensemble_inverts_its_transforms() -> None:
    x = torch.rand(1, 3, 30, 41)
    assert torch.allclose(self_ensemble(_nearest(2), x), F.interpolate(x, scale_factor=2, mode="nearest"))
    model = IPT(IPTConfig(**TINY, scales=[1], self_ensemble=True)).eval()
    with torch.no_grad():
        out = model(x)
        # Averaging the 8 transforms differs from a single pass unless the model is symmetric.
        model.config.self_ensemble = False
        single = model(x)
    assert out.shape == x.shape and not torch.allclose(out, single)
