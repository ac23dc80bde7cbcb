"""IPT's attention through the op registry: torch-MHA equivalence, the sdpa override, bound choices."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import restorefw.ops as ops
from restorefw.testing import check_op
from restorefw_ipt import IPT, IPTConfig, MultiheadAttention
from restorefw_ipt._ops import attention, attention_sdpa, mlp

TINY = {"n_feats": 8, "patch_size": 12, "num_heads": 2, "num_layers": 2, "scales": [2, 1]}


def _ipt(policy: str | None, **params: float) -> IPT:
    torch.manual_seed(0)
    with ops.use(policy):
        model = IPT(IPTConfig(**{**TINY, **params}))
    with torch.no_grad():  # the default LayerNorms are the identity map: give them something to do
        for name, p in model.named_parameters():
            if ".norm" in name:
                p.normal_(1.0 if name.endswith("weight") else 0.0, 0.2)
    return model


def _attention_choices(model: nn.Module) -> set[str]:
    return {m.bound_ops()["_attention"].name for m in model.modules() if isinstance(m, MultiheadAttention)}


def test_sdpa_override_passes_check_op() -> None:
    cases = check_op("ipt.attention", "sdpa")
    assert len(cases) >= 36 and any("float16" in c for c in cases)


@pytest.mark.parametrize("policy", ["auto", "reference"])
@pytest.mark.parametrize(("dim", "heads", "n_k"), [(24, 2, 16), (36, 3, 7), (16, 1, 16)])
def test_module_equals_torch_multihead_attention(policy: str, dim: int, heads: int, n_k: int) -> None:
    torch.manual_seed(1)
    with ops.use(policy):
        ours = MultiheadAttention(dim, heads)
    theirs = nn.MultiheadAttention(dim, heads, bias=False, batch_first=True)
    theirs.load_state_dict(ours.state_dict())  # same keys and shapes, or this raises
    query, key, value = torch.randn(3, 16, dim), torch.randn(3, n_k, dim), torch.randn(3, n_k, dim)
    for mode in (False, True):  # eval mode may take torch's fused MHA path, training mode its Python one
        ours.train(mode), theirs.train(mode)
        expected = theirs(query, key, value, need_weights=False)[0]
        assert (ours(query, key, value) - expected).abs().max().item() <= 1e-6


def test_parameters_and_initialisation_are_those_of_the_official_layers() -> None:
    torch.manual_seed(0)
    ours, theirs = MultiheadAttention(576, 12, dropout=0.1), nn.MultiheadAttention(576, 12, bias=False)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    bound = 1 / math.sqrt(576)  # kaiming_uniform(a=√5) on a fan-in of 576, for both projections
    for weight in (ours.in_proj_weight, ours.out_proj.weight):
        assert weight.abs().max() <= bound and weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_seeded_weights_equal_those_built_on_torch_multihead_attention() -> None:
    """Same seed, same weights as the official layer re-initialised like an nn.Linear (runs stay reproducible)."""
    torch.manual_seed(3)
    ours = MultiheadAttention(48, 4)
    torch.manual_seed(3)
    theirs = nn.MultiheadAttention(48, 4, bias=False, batch_first=True)
    nn.init.kaiming_uniform_(theirs.in_proj_weight, a=math.sqrt(5))
    for name, value in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[name], value), name


def test_the_default_binds_sdpa_and_the_reference_policy_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESTOREFW_OPS", raising=False)
    model = IPT(IPTConfig(**TINY))
    assert _attention_choices(model) == {"sdpa"}
    assert model.body.decoder.layers[0].multihead_attn._attention is attention_sdpa
    reference = _ipt("reference")
    assert _attention_choices(reference) == {"reference"}
    assert reference.body.encoder.layers[1].self_attn._attention is attention
    monkeypatch.setenv("RESTOREFW_OPS", "ipt.attention=reference")
    assert _attention_choices(IPT(IPTConfig(**TINY))) == {"reference"}


def test_all_overrides_match_the_reference_on_a_tiny_ipt() -> None:
    fast, ref = _ipt("auto").eval(), _ipt("reference").eval()
    assert _attention_choices(fast) == {"sdpa"} and _attention_choices(ref) == {"reference"}
    assert all(torch.equal(a, b) for a, b in zip(fast.state_dict().values(), ref.state_dict().values(), strict=True))
    patch, image, features = torch.rand(2, 3, 12, 12), torch.rand(1, 3, 30, 19), torch.randn(2, 8, 12, 12)
    with torch.no_grad():
        for task in (0, 1):  # the whole model (head, body, tail) of each task
            assert (fast(patch, task=task) - ref(patch, task=task)).abs().max().item() <= 1e-5
        assert (fast(image) - ref(image)).abs().max().item() <= 1e-5  # through the chop
        assert (fast.body(features, 1) - ref.body(features, 1)).abs().max().item() <= 1e-5
    fast.train().body(features, 0).square().mean().backward()
    ref.train().body(features, 0).square().mean().backward()
    for (name, a), b in zip(fast.body.named_parameters(), ref.body.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_dropout_reaches_the_op_in_training_mode_only() -> None:
    attn = MultiheadAttention(16, 2, dropout=0.25)
    seen: list[float] = []

    def spy(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float) -> torch.Tensor:
        seen.append(dropout_p)
        return attention(q, k, v, dropout_p)

    attn._attention = spy
    x = torch.randn(1, 5, 16)
    attn.eval()(x, x, x)
    attn.train()(x, x, x)
    assert seen == [0.0, 0.25]


def test_mlp_op_is_bound_and_left_out_while_dropout_is_active() -> None:
    model = _ipt("auto", dropout_rate=0.1)
    layer = model.body.encoder.layers[0]
    assert layer.bound_ops()["_mlp"].name == "onednn" and model.body.bound_ops()["_mlp"].name == "onednn"
    calls: list[int] = []

    def spy(*args: torch.Tensor | None) -> torch.Tensor:
        calls.append(1)
        return mlp(*args)

    layer._mlp = spy
    x = torch.randn(1, 16, layer.linear1.in_features)
    layer.eval()(x)
    layer.train()(x)
    assert calls == [1]
