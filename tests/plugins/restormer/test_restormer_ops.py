"""Restormer through the op registry: which implementations its blocks bind, and that they agree."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

import restorefw.ops as ops
from restorefw.nn import layer_norm_channels
from restorefw.ops import OpsModule
from restorefw_restormer._arch import Restormer, RestormerConfig, build_restormer
from restorefw_restormer._fused import gdfn, mdta_project
from restorefw_restormer._ops import mdta, mdta_scaled

TINY = {"dim": 8, "num_blocks": [1, 1, 1, 1], "heads": [1, 1, 2, 2], "num_refinement_blocks": 1}
FASTEST = {"layernorm2d": "channels_last", "restormer.mdta_project": "folded", "restormer.gdfn": "onednn"}


def _build(policy: str | None = None, **kwargs: Any) -> Restormer:
    torch.manual_seed(0)
    with ops.use(policy):
        model = build_restormer(RestormerConfig(**{**TINY, **kwargs}))
    with torch.no_grad():  # non-trivial temperatures and norm parameters
        for name, p in model.named_parameters():
            if name.endswith("temperature"):
                p.uniform_(0.5, 2.0)
            elif ".norm" in name:
                p.normal_(1.0 if name.endswith("weight") else 0.0, 0.2)
    return model


def _choices(model: torch.nn.Module) -> dict[str, set[str]]:
    """``{op: {implementation, ...}}`` over every block of ``model``."""
    found: dict[str, set[str]] = {}
    for module in model.modules():
        if isinstance(module, OpsModule):
            for impl in module.bound_ops().values():
                found.setdefault(impl.op, set()).add(impl.name)
    return found


def test_cpu_build_binds_the_fastest_overrides() -> None:
    model = _build("auto")
    assert _choices(model) == {op: {impl} for op, impl in FASTEST.items()}
    block = model.encoder_level1[0]
    assert block.norm1.body._layer_norm is not layer_norm_channels and block.attn._mdta_project is not mdta_project


def test_reference_policy_binds_the_references() -> None:
    model = _build("reference")
    assert _choices(model) == {op: {"reference"} for op in FASTEST}
    block = model.latent[0]
    assert block.norm2.body._layer_norm is layer_norm_channels
    assert block.attn._mdta_project is mdta_project and block.ffn._gdfn is gdfn


def test_environment_pins_one_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTOREFW_OPS", "layernorm2d=reference,restormer.gdfn=reference")
    model = build_restormer(RestormerConfig(**TINY))
    assert _choices(model) == {"layernorm2d": {"reference"}, "restormer.mdta_project": {"folded"},
                               "restormer.gdfn": {"reference"}}


@pytest.mark.parametrize("norm_type", ["WithBias", "BiasFree"])
def test_fastest_overrides_match_the_reference(norm_type: str) -> None:
    fast, ref = _build("auto", LayerNorm_type=norm_type), _build("reference", LayerNorm_type=norm_type)
    assert all(torch.equal(a, b) for a, b in zip(fast.state_dict().values(), ref.state_dict().values(), strict=True))
    x = torch.rand(2, 3, 32, 24)
    with torch.no_grad():
        assert (fast.eval()(x) - ref.eval()(x)).abs().max().item() <= 1e-5
    # Training mode takes the autograd paths of the overrides: same loss, same gradients.
    fast.train()(x).square().mean().backward()
    ref.train()(x).square().mean().backward()
    for (name, a), b in zip(fast.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_channels_last_input_gives_the_reference_output_in_channels_last() -> None:
    """restore_image feeds Restormer channels-last maps on the CPU: MDTA then works on NHWC views."""
    fast, ref = _build("auto"), _build("reference")
    x = torch.rand(2, 3, 32, 24)
    with torch.no_grad():
        out = fast.eval()(x.contiguous(memory_format=torch.channels_last))
        assert out.is_contiguous(memory_format=torch.channels_last)
        assert (out - ref.eval()(x)).abs().max().item() <= 1e-5
    qkv = torch.randn(2, 3 * 12, 5, 7, dtype=torch.float64)
    temperature = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64).view(3, 1, 1)
    nhwc = mdta_scaled(qkv.contiguous(memory_format=torch.channels_last), temperature, 3)
    assert nhwc.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(nhwc, mdta(qkv, temperature, 3), atol=1e-12, rtol=1e-12)


def test_nchw_input_runs_channels_last_inside_and_returns_nchw() -> None:
    """A plain model(x) call converts to the fast layout itself and hands back the caller's layout."""
    fast, ref = _build("auto"), _build("reference")
    seen: list[bool] = []
    hook = fast.encoder_level1[0].register_forward_pre_hook(
        lambda _m, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    x = torch.rand(1, 3, 16, 24)
    with torch.inference_mode():
        out = fast.eval()(x)
        assert out.is_contiguous() and (out - ref.eval()(x)).abs().max().item() <= 1e-5
    hook.remove()
    assert seen == [True]
    encoder, decoder = fast.split()
    with torch.inference_mode():
        features = encoder(x)
        assert all(f.is_contiguous(memory_format=torch.channels_last) for f in features)
        assert torch.equal(decoder(features, x), out)


def test_whole_and_split_share_the_bound_ops() -> None:
    model = _build("auto")
    encoder, decoder = model.split()
    assert encoder.latent[0].attn._mdta_project is model.latent[0].attn._mdta_project
    assert _choices(decoder) == _choices(model)


def test_moves_re_resolve_for_the_new_dtype() -> None:
    model = _build("auto")
    model.to(torch.float16)  # the folded MDTA and oneDNN's fused GDFN are not chosen for float16
    assert _choices(model)["restormer.mdta_project"] == {"reference"}
    assert _choices(model)["restormer.gdfn"] == {"reference"}
    assert _choices(model)["layernorm2d"] == {"channels_last"}
    model.float()
    assert _choices(model) == {op: {impl} for op, impl in FASTEST.items()}
    assert _choices(copy.deepcopy(model)) == _choices(model)


def test_meta_device_builds_bind_the_references() -> None:
    with torch.device("meta"):
        model = build_restormer(RestormerConfig(**TINY))
    assert _choices(model) == {op: {"reference"} for op in FASTEST}
    model = model.to_empty(device="cpu")
    assert _choices(model) == {op: {impl} for op, impl in FASTEST.items()}
