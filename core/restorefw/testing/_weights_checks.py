"""Conformance check of a catalog entry: its spec builds, its protocol exists, the authors' layout fits."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from restorefw._builder import build_model
from restorefw._errors import CheckpointError, RestorefwError
from restorefw._registry import Registry
from restorefw.data import PROTOCOLS
from restorefw.testing._build import ContractError
from restorefw.weights import load_into

__all__ = ["check_weights"]


def check_weights(registry: Registry, name: str, official: Mapping[str, Tensor] | None = None) -> nn.Module:
    """Check catalog entry ``name``, as ``restorefw convert --weights`` and ``restorefw eval`` will use it.

    The model is built from the entry's spec on the meta device (no memory, no time, whatever its
    size). With ``official``, a state dict in the authors' layout that the test builds (meta
    tensors will do: only names and shapes count), the model's importer must recognise it, and
    the state it maps it to must fill the model key for key and shape for shape.

    Args:
        registry: a registry whose catalog holds ``name``.
        name: the catalog name, e.g. ``"restormer/deraining"``.
        official: the authors' state dict for this checkpoint's configuration.

    Returns:
        The model, on the meta device.

    Raises:
        ContractError: naming the entry and what does not hold.
    """
    entry = registry.weights.get(name)
    where = f"weights '{name}' (plugin '{entry.plugin}')"
    if entry.protocol is not None and entry.protocol not in PROTOCOLS:
        raise ContractError(f"{where}: protocol '{entry.protocol}' is not one of {', '.join(PROTOCOLS)}")
    try:
        with torch.device("meta"):
            model = build_model(registry, entry.model_spec, checkpoints=False)
    except RestorefwError as exc:
        raise ContractError(f"{where}: the model spec {entry.model_spec} does not build: {exc}") from exc
    if official is None:
        return model
    importer = registry.get("model", entry.model).importer
    if importer is None or importer.infer_spec(official) is None:
        raise ContractError(f"{where}: model '{entry.model}' does not recognise the authors' state dict")
    state = importer.from_official(dict(official)) if importer.from_official else official
    try:
        load_into(model, state, f"the authors' layout of {name}")
    except CheckpointError as exc:
        raise ContractError(f"{where}: {exc}") from exc
    return model
