"""Loading a state dict into a module, or into a part of a composed model."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from restorefw._errors import CheckpointError

__all__ = ["load_into"]

_SHOWN = 5  # keys listed per kind of problem in a mismatch message


def load_into(module: nn.Module, state: Mapping[str, Tensor], source: str, strict: bool = True) -> list[str]:
    """Load ``state`` into ``module``, finding the key prefix the module lives under.

    A checkpoint of a composed model (``encoder.*``, ``decoder.*``) can thus initialise
    just its encoder.

    Args:
        module: the module to fill.
        state: a state dict, possibly of a larger model that contains ``module``.
        source: where ``state`` came from, for messages.
        strict: every key of ``module`` must be found (unexpected keys are always errors).

    Returns:
        The module keys that were missing (only when not strict).

    Raises:
        CheckpointError: listing missing, unexpected and mis-shaped keys.
    """
    own = module.state_dict()
    if not own:
        return []
    prefix = _find_prefix(list(own), state)
    picked = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    missing = sorted(set(own) - set(picked))
    unexpected = sorted(set(picked) - set(own)) if strict else []
    wrong = sorted(k for k in set(own) & set(picked) if own[k].shape != picked[k].shape)
    if (missing and strict) or unexpected or wrong:
        mismatched = [f"{k}: checkpoint {tuple(picked[k].shape)} vs model {tuple(own[k].shape)}" for k in wrong]
        problems = [(missing if strict else [], "missing keys"), (unexpected, "unexpected keys"),
                    (mismatched, "shape mismatches")]
        report = "; ".join(f"{len(items)} {label}: {_shown(items)}" for items, label in problems if items)
        raise CheckpointError(f"checkpoint '{source}' does not fit {type(module).__name__}: {report}")
    with torch.no_grad():
        for key, tensor in own.items():
            if key in picked:
                tensor.copy_(picked[key])
    return missing


def _shown(items: list[str]) -> str:
    more = f", ... (+{len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


def _find_prefix(keys: list[str], state: Mapping[str, Tensor]) -> str:
    if keys[0] in state:
        return ""
    for candidate in (k[: -len(keys[0])] for k in state if k.endswith("." + keys[0])):
        if all(candidate + k in state for k in keys):
            return candidate
    return ""
