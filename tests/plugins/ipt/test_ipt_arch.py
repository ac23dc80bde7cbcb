"""IPT architecture: official parameter counts and key layout, heads/tails, pruning, checkpoint import."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from click.testing import CliRunner
from pydantic import ValidationError

from restorefw._builder import load_model
from restorefw.cli import cli
from restorefw.models import describe
from restorefw.nn import MeanShift, ResBlock, Upsampler
from restorefw.testing import check_model
from restorefw.weights import load_into
from restorefw_ipt import IPT, IPTConfig, IPTHead, IPTTail, infer_spec, pruned_spec

TINY = {"n_feats": 8, "patch_size": 12, "num_heads": 2, "num_layers": 1}
BODY = ["body.decoder", "body.encoder", "body.linear_encoding", "body.mlp_head", "body.position_encoding",
        "body.query_embed"]


def _meta(**params: Any) -> IPT:
    with torch.device("meta"):
        return IPT(IPTConfig(**params))


@pytest.mark.parametrize(("params", "total", "keys"), [
    ({}, 115_608_155, 317),
    ({"scales": [2]}, 115_460_443, 315),
    ({"scales": [3]}, 115_645_083, 315),
    ({"scales": [2, 3, 4, 1, 1, 1]}, 118_892_394, 381),
])
def test_official_parameter_counts_and_keys(params: dict[str, Any], total: int, keys: int) -> None:
    model = _meta(**params)
    state = model.state_dict()
    assert sum(p.numel() for p in model.parameters()) == total
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == total - 24  # frozen MeanShifts
    assert len(state) == keys
    assert sorted({k.split(".")[0] for k in state}) == ["add_mean", "body", "head", "sub_mean", "tail"]
    assert sorted({".".join(k.split(".")[:2]) for k in state if k.startswith("body.")}) == BODY
    assert "body.position_encoding.position_ids" in state


def test_part_sizes_of_the_six_task_model() -> None:
    model = _meta(scales=[2, 3, 4, 1, 1, 1])
    count = {name: sum(p.numel() for p in getattr(model, name).parameters()) for name in ("head", "body", "tail")}
    assert count == {"head": 2_469_888, "body": 115_636_608, "tail": 785_874}
    assert model.body.query_embed.weight.shape == (6, 576 * 256)
    assert [sum(p.numel() for p in t.parameters()) for t in model.tail][3:] == [1_731] * 3


def test_config_errors() -> None:
    with pytest.raises(ValidationError, match="scale must be 1, 3 or a power of two"):
        IPTConfig(scales=[5])
    with pytest.raises(ValidationError, match="num_queries must be 1 or the number of tasks"):
        IPTConfig(scales=[2, 1], num_queries=3)
    with pytest.raises(ValidationError, match="chop needs"):
        IPTConfig(chop_stride=30, chop_margin=12)
    with pytest.raises(ValidationError, match="heads has 1 entries for 2 tasks"):
        IPTConfig(scales=[2, 1], heads=["ipt.head"])


def test_registered_heads_and_tails_build_the_official_parts(registry) -> None:
    assert registry.get("head", "ipt.head").part == "head"
    assert registry.get("tail", "ipt.tail").part == "tail"
    head = registry.create("head", "ipt.head")
    assert sum(p.numel() for p in head.parameters()) == 411_648
    assert head[1].body[0].kernel_size == (5, 5)
    tail = registry.create("tail", "ipt.tail", scale=4)
    assert tail.scale == 4 and sum(p.numel() for p in tail.parameters()) == 297_155


def test_heads_and_tails_from_the_recipe_must_fit_the_scales(registry) -> None:
    spec = {"type": "ipt", **TINY, "scales": [2, 1],
            "heads": [{"type": "ipt.head", "n_feats": 8, "n_resblocks": 1}] * 2,
            "tails": [{"type": "ipt.tail", "n_feats": 8, "scale": 2}, {"type": "ipt.tail", "n_feats": 8}]}
    model = registry.create("model", spec)
    assert len(model.head[0]) == 2 and model.tail[0].scale == 2
    with pytest.raises(Exception, match="tail 1 .* has scale 1, scales\\[1\\] is 2"):
        registry.create("model", {**spec, "scales": [2, 2]})


def test_conformance_kit_accepts_a_tiny_ipt(registry) -> None:
    model = check_model(registry, "ipt", **TINY, scales=[2])
    assert model.scale == 2 and describe(model).size_multiple == 1


def test_keep_task_prunes_to_one_task_and_the_pruned_spec_rebuilds_it(registry) -> None:
    spec = registry.resolve("model", {"type": "ipt", **TINY, "scales": [2, 3, 1], "task": 1})
    torch.manual_seed(0)
    model = registry.build("model", spec)
    query = model.body.query_embed.weight[1].clone()
    model.keep_task(1)
    state = model.state_dict()
    assert {k.split(".")[1] for k in state if k.startswith(("head.", "tail."))} == {"0"}
    assert torch.equal(state["body.query_embed.weight"][0], query)
    assert model.scale == 3 and model.task == 0
    rebuilt = registry.build("model", registry.resolve("model", pruned_spec(spec, 1)))
    load_into(rebuilt, state, "pruned")  # strict: same keys and shapes
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), model.eval()(x))


def test_keep_task_with_new_head_and_tail() -> None:
    model = IPT(IPTConfig(**TINY, scales=[2, 1]))
    model.keep_task(1, IPTHead(n_feats=8), IPTTail(4, n_feats=8))
    assert model.scales == [4] and model(torch.rand(1, 3, 12, 12)).shape == (1, 3, 48, 48)


def test_infer_spec_reads_the_configuration_back() -> None:
    model = _meta(scales=[2, 3, 4, 1, 1, 1])
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    spec = infer_spec(state)
    assert spec is not None
    assert spec["scales"] == [2, 3, 4, 1, 1, 1] and spec["num_queries"] == 6
    assert (spec["n_feats"], spec["patch_dim"], spec["patch_size"], spec["num_layers"]) == (64, 3, 48, 12)
    assert not (spec["no_mlp"] or spec["no_pos"] or spec["no_norm"]) and "heads" not in spec
    assert infer_spec({"conv.weight": torch.zeros(1)}) is None


def test_convert_imports_an_official_style_checkpoint(tmp_path, registry) -> None:
    # num_heads is not stored in the weights: convert assumes the official 12.
    model = IPT(IPTConfig(n_feats=4, patch_size=12, num_heads=12, num_layers=1, scales=[2, 1], num_queries=2))
    torch.save({f"model.{k}": v for k, v in model.state_dict().items()}, tmp_path / "ipt.pt")
    result = CliRunner().invoke(cli, ["convert", str(tmp_path / "ipt.pt"), str(tmp_path / "ipt.safetensors")])
    assert result.exit_code == 0, result.output
    assert "ipt with" in result.output
    converted, meta = load_model(str(tmp_path / "ipt.safetensors"), registry)
    assert meta["model"]["scales"] == [2, 1]
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        assert torch.equal(converted.eval()(x), model.eval()(x))


def test_shared_layers() -> None:
    x = torch.rand(2, 3, 5, 5) * 255
    sub, add = MeanShift(255), MeanShift(255, sign=1)
    assert torch.allclose(add(sub(x)), x, atol=1e-4)
    assert torch.allclose(sub(x)[:, 0], x[:, 0] - 0.4488 * 255, atol=1e-4)
    assert not any(p.requires_grad for p in sub.parameters())
    assert len(Upsampler(1, 8)) == 0 and len(Upsampler(4, 8)) == 4
    assert Upsampler(3, 8)(torch.rand(1, 8, 4, 4)).shape == (1, 8, 12, 12)
    with pytest.raises(ValueError, match="scale 1, 3 or a power of two"):
        Upsampler(6, 8)
    block = ResBlock(8, 5)
    assert block(torch.rand(1, 8, 7, 7)).shape == (1, 8, 7, 7) and block.body[0].kernel_size == (5, 5)
