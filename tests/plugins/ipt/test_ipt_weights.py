"""The authors' IPT state dicts, laid out by this test from their model/ipt.py, import into the catalog's models:
every catalogued checkpoint at full size on the meta device, and a tiny one with random values."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
import torch
from torch import Tensor

from restorefw import Registry
from restorefw._builder import import_state
from restorefw.testing import check_weights
from restorefw.weights import load_into


def official_layout(scales: Sequence[int], num_queries: int = 1, n_feats: int = 64, n_colors: int = 3,
                    patch_size: int = 48, patch_dim: int = 3, num_layers: int = 12, prefix: str = "",
                    device: str = "meta") -> dict[str, Tensor]:
    """Names and shapes of the state dict of the authors' ``ipt(args)`` (model/ipt.py, model/common.py):
    MeanShift 1x1 convs, per task a head (conv3x3, two ResBlocks of 5x5 convs) and a tail (Upsampler, conv3x3),
    and the VisionTransformer body (linear_encoding, mlp_head, query_embed, encoder and decoder layers whose
    attention has no biases, learned positions with their position_ids buffer)."""
    feats, dim = n_feats, n_feats * patch_dim**2
    hidden, tokens = 4 * dim, (patch_size // patch_dim) ** 2
    shapes: dict[str, tuple[int, ...]] = {}

    def linear(name: str, out: int, inp: int, *extra: int) -> None:
        shapes[f"{name}.weight"], shapes[f"{name}.bias"] = (out, inp, *extra), (out,)

    for mean in ("sub_mean", "add_mean"):
        linear(mean, 3, 3, 1, 1)
    for task, scale in enumerate(scales):
        linear(f"head.{task}.0", feats, n_colors, 3, 3)
        for block in (1, 2):
            for conv in (0, 2):
                linear(f"head.{task}.{block}.body.{conv}", feats, feats, 5, 5)
        steps = [(9, 0)] if scale == 3 else [(4, 2 * i) for i in range(int(math.log2(scale)))]
        for factor, index in steps:
            linear(f"tail.{task}.0.{index}", factor * feats, feats, 3, 3)
        linear(f"tail.{task}.1", n_colors, feats, 3, 3)
    linear("body.linear_encoding", dim, dim)
    linear("body.mlp_head.0", hidden, dim)
    linear("body.mlp_head.3", dim, hidden)
    shapes["body.query_embed.weight"] = (num_queries, dim * tokens)
    for stack, attentions, norms in (("encoder", ("self_attn",), 2), ("decoder", ("self_attn", "multihead_attn"), 3)):
        for layer in range(num_layers):
            p = f"body.{stack}.layers.{layer}"
            for attention in attentions:
                shapes[f"{p}.{attention}.in_proj_weight"] = (3 * dim, dim)
                shapes[f"{p}.{attention}.out_proj.weight"] = (dim, dim)
            linear(f"{p}.linear1", hidden, dim)
            linear(f"{p}.linear2", dim, hidden)
            for norm in range(1, norms + 1):
                shapes[f"{p}.norm{norm}.weight"] = shapes[f"{p}.norm{norm}.bias"] = (dim,)
    shapes["body.position_encoding.pe.weight"] = (tokens, dim)
    state = {prefix + name: torch.randn(shape, device=device) for name, shape in shapes.items()}
    state[f"{prefix}body.position_encoding.position_ids"] = torch.arange(tokens, device=device)[None]
    return state


def _params(state: dict[str, Tensor]) -> int:
    return sum(t.numel() for name, t in state.items() if not name.endswith("position_ids"))


# Key and parameter counts of the authors' module, measured by instantiating it.
@pytest.mark.parametrize(("scales", "queries", "keys", "params"), [
    ([4], 1, 317, 115_608_155),
    ([2], 1, 315, 115_460_443),
    ([3], 1, 315, 115_645_083),
    ([2, 3, 4, 1, 1, 1], 6, 381, 118_892_394),
])
def test_the_layout_is_the_authors(scales: list[int], queries: int, keys: int, params: int) -> None:
    state = official_layout(scales, queries)
    assert (len(state), _params(state)) == (keys, params)


CATALOG = {"ipt/pretrain": ([2, 3, 4, 1, 1, 1], 6), "ipt/sr_x2": ([2], 1), "ipt/sr_x3": ([3], 1),
           "ipt/sr_x4": ([4], 1), "ipt/denoise_30": ([1], 1), "ipt/denoise_50": ([1], 1), "ipt/derain": ([1], 1)}


def test_the_catalog_lists_the_released_checkpoints(registry: Registry) -> None:
    assert {e.name for e in registry.weights.list("ipt/*")} == set(CATALOG)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_each_catalogued_checkpoint_takes_the_authors_layout(registry: Registry, name: str) -> None:
    scales, queries = CATALOG[name]
    state = official_layout(scales, queries, prefix="model." if name == "ipt/derain" else "")
    model = check_weights(registry, name, state)
    assert sum(p.numel() for p in model.parameters()) == _params(state)


def test_the_importer_reads_the_authors_layout(registry: Registry) -> None:
    torch.manual_seed(0)
    state = official_layout([2, 1], 2, n_feats=4, patch_size=12, num_layers=1, device="cpu")
    spec, converted = import_state(state, registry)
    assert spec == {"type": "ipt", "scales": [2, 1], "n_feats": 4, "n_colors": 3, "patch_dim": 3, "patch_size": 12,
                    "num_layers": 1, "num_queries": 2, "no_mlp": False, "no_pos": False, "no_norm": False}
    model = registry.create("model", spec)
    load_into(model, converted, "the authors' layout")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
