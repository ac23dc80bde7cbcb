"""Official Restormer checkpoints: configuration inferred from the keys, loading, the importer.

Official checkpoints are BasicSR dicts ``{'params': state_dict}`` whose keys restorefw's
Restormer keeps, so importing needs no renaming. The configuration is inferred from key names
and shapes alone, so any of the official variants (WithBias, BiasFree, 1/3-channel,
dual-pixel) loads without extra arguments. ``restorefw convert`` and ``restorefw eval`` reach
this module through :data:`IMPORTER`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from torch import Tensor

from restorefw import CheckpointError
from restorefw.weights import Importer, load_into, read_state_dict, unwrap_state_dict
from restorefw_restormer._arch import Restormer, RestormerConfig, build_restormer

__all__ = ["IMPORTER", "infer_config", "infer_spec", "load_restormer"]


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


def infer_spec(state: Mapping[str, Tensor]) -> dict[str, Any] | None:
    """Restormer parameters of an official (or restorefw) state dict; ``None`` if not a Restormer.

    Raises:
        CheckpointError: the keys look like a Restormer but are inconsistent (names what is wrong).
    """
    if not any(k.startswith(("patch_embed.proj.", "latent.")) for k in state):
        return None
    return infer_config(state).model_dump()


IMPORTER = Importer(infer_spec)
"""The official key names are restorefw's: nothing to map in either direction."""


def load_restormer(
    path_or_sd: str | os.PathLike[str] | Mapping[str, Any], config: RestormerConfig | None = None
) -> Restormer:
    """Build a :class:`Restormer` and load a checkpoint into it.

    Args:
        path_or_sd: checkpoint file (see :func:`restorefw.weights.read_state_dict`) or a state dict,
            possibly wrapped as ``{'params': ...}``.
        config: the architecture; inferred from the state dict when ``None``.

    Returns:
        The model with the checkpoint's weights, on the CPU, in training mode.

    Raises:
        CheckpointError: unreadable file, or keys/shapes that do not fit the
            configuration (one error listing missing, unexpected and mis-shaped keys).
    """
    if isinstance(path_or_sd, Mapping):
        sd, source = unwrap_state_dict(path_or_sd, "state dict"), "state dict"
    else:
        sd, source = read_state_dict(path_or_sd), str(path_or_sd)
    if config is None:
        try:
            config = infer_config(sd)
        except CheckpointError as exc:
            raise CheckpointError(f"{source}: {exc}") from exc
    model = build_restormer(config)
    load_into(model, sd, source)
    return model
