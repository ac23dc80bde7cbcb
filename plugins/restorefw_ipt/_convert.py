"""Recognise IPT state dicts (official or restorefw) so that ``restorefw convert`` can import them.

Chen et al., "Pre-Trained Image Processing Transformer", CVPR 2021, arXiv:2012.00364;
official checkpoints: https://github.com/huawei-noah/Pretrained-IPT. Clean-room code.
"""

from __future__ import annotations

import math
import re
from typing import Any

from torch import Tensor

from restorefw import CheckpointError
from restorefw.weights import Importer

__all__ = ["IMPORTER", "infer_spec"]


def _indices(state: dict[str, Tensor], pattern: str) -> list[int]:
    found = {int(m.group(1)) for key in state if (m := re.fullmatch(pattern, key))}
    return sorted(found)


def infer_spec(state: dict[str, Tensor]) -> dict[str, Any] | None:
    """The ``ipt`` parameters a state dict was saved with; None if it is not an IPT.

    Everything but ``num_heads`` (invisible in the weights; the official 12 is assumed)
    and the chop/inference options is read from key names and shapes. A prefix such as
    ``model.`` is allowed.

    Raises:
        CheckpointError: IPT keys whose shapes do not fit together.
    """
    anchor = next((k for k in state if k.endswith("body.encoder.layers.0.self_attn.in_proj_weight")), None)
    if anchor is None:
        return None
    p = anchor[: -len("body.encoder.layers.0.self_attn.in_proj_weight")]
    try:
        n_feats, n_colors = state[f"{p}head.0.0.weight"].shape[:2]
        dim = state[anchor].shape[1]
        patch_dim = math.isqrt(dim // n_feats)
        tasks = _indices(state, re.escape(p) + r"head\.(\d+)\.0\.weight")
        blocks = _indices(state, re.escape(p) + r"head\.0\.(\d+)\.body\.0\.weight")
        kernel = state[f"{p}head.0.{blocks[0]}.body.0.weight"].shape[-1] if blocks else 5
        scales = []
        for task in tasks:
            scale = 1
            for step in _indices(state, re.escape(p) + rf"tail\.{task}\.0\.(\d+)\.weight"):
                scale *= math.isqrt(state[f"{p}tail.{task}.0.{step}.weight"].shape[0] // n_feats)
            scales.append(scale)
        table = state.get(f"{p}body.position_encoding.pe.weight")
        queries = state.get(f"{p}body.query_embed.weight")
        tokens = table.shape[0] if table is not None else queries.shape[1] // dim if queries is not None else None
    except (KeyError, IndexError, ZeroDivisionError) as exc:
        raise CheckpointError(f"the keys look like an IPT but are incomplete: {exc}") from None
    if patch_dim**2 * n_feats != dim or tokens is None:
        raise CheckpointError(f"IPT token dim {dim} does not fit {n_feats} features, or no token count is stored")
    spec: dict[str, Any] = {
        "scales": scales, "n_feats": n_feats, "n_colors": n_colors, "patch_dim": patch_dim,
        "patch_size": math.isqrt(tokens) * patch_dim,
        "num_layers": len(_indices(state, re.escape(p) + r"body\.encoder\.layers\.(\d+)\.linear1\.weight")),
        "num_queries": queries.shape[0] if queries is not None else None,
        "no_mlp": queries is None, "no_pos": table is None,
        "no_norm": f"{p}body.encoder.layers.0.norm1.weight" not in state,
    }
    if kernel != 5 or len(blocks) != 2:
        head = {"type": "ipt.head", "n_colors": n_colors, "n_feats": n_feats, "kernel_size": kernel,
                "n_resblocks": len(blocks)}
        spec["heads"] = [head] * len(tasks)
    return spec


IMPORTER = Importer(infer_spec)
"""restorefw's IPT keeps the official key names: nothing to map in either direction."""
