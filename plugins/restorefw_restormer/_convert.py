"""Load, check and convert Restormer checkpoints (official ``.pth`` or safetensors).

Official checkpoints are BasicSR dicts ``{'params': state_dict}``. The configuration
is inferred from key names and shapes alone, so any of the official variants
(WithBias, BiasFree, 1/3-channel, dual-pixel) loads without extra arguments.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from torch import Tensor

from restorefw._errors import CheckpointError
from restorefw.engine import read_state_dict, save_weights, unwrap_state_dict
from restorefw_restormer._arch import Restormer, RestormerConfig, build_restormer

__all__ = ["convert_to_safetensors", "infer_config", "load_restormer", "read_state_dict"]

_SHOWN = 5  # entries listed per problem kind in a mismatch message


def _block_counts(sd: Mapping[str, Tensor], prefix: str) -> int:
    pattern = re.compile(rf"{re.escape(prefix)}\.(\d+)\.")
    indices = [int(m.group(1)) for k in sd if (m := pattern.match(k))]
    return max(indices) + 1 if indices else 0


def _infer_ffn_factor(dim: int, hidden: Mapping[int, int]) -> float:
    """Smallest factor with two decimals such that ``int(width * factor) == hidden[width]``."""
    low = min(hidden)
    for step in range(max(1, 100 * hidden[low] // low - 1), 100 * (hidden[low] + 1) // low + 2):
        factor = step / 100
        if all(int(width * factor) == h for width, h in hidden.items()):
            return factor
    raise CheckpointError(f"no ffn_expansion_factor with two decimals gives the hidden widths {dict(hidden)}")


def infer_config(sd: Mapping[str, Tensor]) -> RestormerConfig:
    """Infer the :class:`RestormerConfig` of a state dict from its key names and shapes.

    Raises:
        CheckpointError: keys needed for the inference are missing, or the values found
            do not form a valid configuration.
    """
    levels = ("encoder_level1", "encoder_level2", "encoder_level3", "latent")
    needed = ["patch_embed.proj.weight", "output.weight"]
    needed += [f"{level}.0.{name}" for level in levels for name in ("attn.temperature", "ffn.project_in.weight")]
    if missing := [k for k in needed if k not in sd]:
        raise CheckpointError(f"not a Restormer state dict: missing {', '.join(missing)}")
    dim, inp_channels = sd["patch_embed.proj.weight"].shape[:2]
    # project_in maps each level's width to twice the hidden width of its GDFN.
    hidden = {dim * 2**i: sd[f"{level}.0.ffn.project_in.weight"].shape[0] // 2 for i, level in enumerate(levels)}
    try:
        return RestormerConfig(
            inp_channels=inp_channels,
            out_channels=sd["output.weight"].shape[0],
            dim=dim,
            num_blocks=[_block_counts(sd, level) for level in levels],
            num_refinement_blocks=_block_counts(sd, "refinement"),
            heads=[sd[f"{level}.0.attn.temperature"].shape[0] for level in levels],
            ffn_expansion_factor=_infer_ffn_factor(dim, hidden),
            bias="encoder_level1.0.attn.qkv.bias" in sd,
            LayerNorm_type="WithBias" if "encoder_level1.0.norm1.body.bias" in sd else "BiasFree",
            dual_pixel_task="skip_conv.weight" in sd,
        )
    except ValidationError as exc:
        raise CheckpointError(f"inconsistent Restormer state dict: {exc}") from exc


def _mismatch_report(sd: Mapping[str, Tensor], cfg: RestormerConfig) -> str:
    """Describe how ``sd`` differs from the keys and shapes of a model built from ``cfg``; '' if it fits."""
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        expected = {k: tuple(v.shape) for k, v in build_restormer(cfg).state_dict().items()}
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    wrong = [
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {s}"
        for k, s in expected.items()
        if k in sd and tuple(sd[k].shape) != s
    ]
    parts = []
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", wrong)):
        if items:
            more = f", ... (+{len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
            parts.append(f"{len(items)} {label}: {', '.join(items[:_SHOWN])}{more}")
    return "; ".join(parts)


def _infer_config_of(sd: Mapping[str, Tensor], source: str) -> RestormerConfig:
    try:
        return infer_config(sd)
    except CheckpointError as exc:
        raise CheckpointError(f"{source}: {exc}") from exc


def _load_source(path_or_sd: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[dict[str, Tensor], str]:
    if isinstance(path_or_sd, Mapping):
        return unwrap_state_dict(path_or_sd, "state dict"), "state dict"
    return read_state_dict(path_or_sd), str(path_or_sd)


def load_restormer(
    path_or_sd: str | os.PathLike[str] | Mapping[str, Any], config: RestormerConfig | None = None
) -> Restormer:
    """Build a :class:`Restormer` and load a checkpoint into it.

    Args:
        path_or_sd: checkpoint file (see :func:`restorefw.engine.read_state_dict`) or a state dict,
            possibly wrapped as ``{'params': ...}``.
        config: the architecture; inferred from the state dict when ``None``.

    Returns:
        The model with the checkpoint's weights, on the CPU, in training mode.

    Raises:
        CheckpointError: unreadable file, or keys/shapes that do not fit the
            configuration (one error listing missing, unexpected and mis-shaped keys).
    """
    sd, source = _load_source(path_or_sd)
    cfg = config if config is not None else _infer_config_of(sd, source)
    if report := _mismatch_report(sd, cfg):
        raise CheckpointError(f"{source}: checkpoint does not fit Restormer {cfg.model_dump()}: {report}")
    model = build_restormer(cfg)
    model.load_state_dict(sd, strict=True)
    return model


def convert_to_safetensors(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> dict[str, Any]:
    """Convert a Restormer checkpoint to safetensors, checking it against its inferred config.

    The file carries restorefw metadata (``model`` spec), so ``restorefw restore
    --checkpoint DST`` can rebuild the model; it is written atomically.

    Returns:
        The metadata stored in the file.

    Raises:
        CheckpointError: ``src`` is unreadable or is not a consistent Restormer checkpoint.
    """
    sd = read_state_dict(src)
    cfg = _infer_config_of(sd, str(src))
    if report := _mismatch_report(sd, cfg):
        raise CheckpointError(f"{src}: not a consistent Restormer checkpoint: {report}")
    metadata = {"architecture": "restormer", "model": {"type": "restormer", **cfg.model_dump()},
                "source": Path(src).name}
    save_weights(dst, sd, metadata)
    return metadata
