"""Models with their weights: restorefw weights files, the authors' checkpoints, part checkpoints.

The registry builds components from specs and never reads a file; loading lives here, as timm
keeps it in its builder and out of its registry. Each file is read once, by the call that needs it.
The authors' checkpoints come in through the registered importers, checked against the catalog of
known checkpoints when the user names one, and go back out with their key names (``export``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from restorefw._errors import CheckpointError
from restorefw._registry import Entry, OnBuilt, Registry
from restorefw.weights import (
    StateDict,
    WeightsEntry,
    checkpoint_files,
    load_into,
    read_metadata,
    read_state_dict,
    save_weights,
    verify_checkpoint,
)

__all__ = ["build_model", "checkpoint_loader", "convert_checkpoint", "export_official", "import_model", "import_state",
           "importers", "load_model", "part_checkpoints", "resolve_weights"]


def part_checkpoints(spec: Mapping[str, Any]) -> list[str]:
    """Every ``checkpoint`` named in a resolved model spec, its parts' included."""
    found = [spec["checkpoint"]] if isinstance(spec.get("checkpoint"), str) else []
    for value in spec.values():
        children = [value] if isinstance(value, dict) and "type" in value else \
            list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else []
        found += [path for child in children if isinstance(child, dict) and "type" in child
                  for path in part_checkpoints(child)]
    return found


def checkpoint_loader() -> OnBuilt:
    """An ``on_built`` callback for :meth:`Registry.build` that loads each model spec's ``checkpoint``.

    Each file is read once, right after its part is built and before the wholes that contain it,
    so a composition sees its parts' trained weights.
    """

    def load(kind: str, resolved: dict[str, Any], built: Any) -> None:
        path = resolved.get("checkpoint")
        if isinstance(path, str) and isinstance(built, nn.Module):
            load_into(built, read_state_dict(path), path)

    return load


def build_model(registry: Registry, spec: str | Mapping[str, Any], *, checkpoints: bool = True) -> nn.Module:
    """Build a model and load the ``checkpoint`` of its spec and of its parts' specs.

    Args:
        registry: the registry to build from.
        spec: a model name or spec table (``{"type": name, ..., "checkpoint": path}``).
        checkpoints: load the named checkpoints (off when a resume state overwrites every weight).

    Example:
        ``build_model(registry, {"type": "segmenter", "backbone": {"type": "ddep.unet.encoder",
        "checkpoint": "runs/dep/checkpoints/last.safetensors"}})``
    """
    resolved = registry.resolve("model", spec, "model")
    model: nn.Module = registry.build("model", resolved, checkpoint_loader() if checkpoints else None)
    return model


def load_model(path: str | Path, registry: Registry) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model from a restorefw weights file (its metadata names the model spec).

    Returns:
        The model with its weights, and the file's metadata.

    Raises:
        CheckpointError: the file is unreadable or carries no model spec.
    """
    meta = read_metadata(path)
    if "model" not in meta:
        raise CheckpointError(
            f"checkpoint '{path}' has no restorefw model metadata; import it first with 'restorefw convert'"
        )
    model = build_model(registry, meta["model"], checkpoints=False)
    load_into(model, read_state_dict(path), str(path))
    return model, meta


def importers(registry: Registry, arch: str | None = None) -> list[Entry]:
    """Models that import foreign checkpoints, in the order they are asked (``Importer.order``, then name)."""
    found = [e for e in registry.list("model") if e.importer is not None and (arch is None or e.name == arch)]
    if arch is not None and not found:
        raise CheckpointError(f"model '{arch}' cannot import checkpoints (it registers no importer)")
    return sorted(found, key=lambda e: (e.importer.order if e.importer else 0, e.name))


def import_state(state: Mapping[str, Tensor], registry: Registry, arch: str | None = None) -> tuple[dict[str, Any],
                                                                                                    StateDict]:
    """Recognise a foreign state dict: the first importer whose ``infer_spec`` accepts it wins.

    Returns:
        The model spec (``{"type": name, ...}``) and the state dict in the model's own layout.

    Raises:
        CheckpointError: no registered model recognises the keys.
    """
    candidates = importers(registry, arch)
    for entry in candidates:
        assert entry.importer is not None
        params = entry.importer.infer_spec(state)
        if params is not None:
            convert = entry.importer.from_official
            return {"type": entry.name, **params}, convert(dict(state)) if convert else dict(state)
    names = ", ".join(e.name for e in candidates) or "none"
    raise CheckpointError(f"no registered model recognises these {len(state)} keys (tried: {names})")


def resolve_weights(registry: Registry, name: str, file: str | Path, *,
                    verify: bool = True) -> tuple[Path, WeightsEntry]:
    """A catalogued official checkpoint, found and checked: what ``--weights NAME FILE`` means.

    Args:
        registry: the registry whose catalog (``registry.weights``) knows ``name``.
        name: the catalog name, e.g. ``"restormer/deraining"``.
        file: the checkpoint here: its file, a folder holding the published files, or for a
            checkpoint in several files (a TensorFlow 1 bundle) one of them or their prefix.
        verify: compare each file's SHA-256 with the catalog's, where the catalog knows it.

    Returns:
        The file to read (for a bundle, its first published file, the ``.index``) and the entry.

    Raises:
        RegistryError: an unknown name (with the closest known one).
        CheckpointError: a missing file (saying where the authors publish it), or a SHA-256 that
            differs from the published one (expected and found, one line per file).
    """
    entry = registry.weights.get(name)
    if not verify:
        return checkpoint_files(entry, file)[entry.files[0]], entry
    checks = verify_checkpoint(entry, file)
    if bad := [check for check in checks if check.ok is False]:
        raise CheckpointError("\n".join(check.mismatch(entry.name) for check in bad))
    return checks[0].path, entry


def import_model(src: str | Path, registry: Registry, arch: str | None = None,
                 weights: WeightsEntry | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Build the model an official checkpoint holds and load its weights.

    Args:
        src: the checkpoint: anything :func:`restorefw.weights.read_state_dict` reads (``.pth``, a
            TensorFlow 1 checkpoint's ``.index``, prefix or folder, ...).
        registry: the registry whose importers are asked.
        arch: the model to import as; default: whichever recognises the keys.
        weights: a catalog entry (:func:`resolve_weights`) whose model and spec are used as they are.

    Returns:
        The model with its weights, and its resolved spec.

    Raises:
        CheckpointError: the file cannot be read or no registered model recognises it.
    """
    state = read_state_dict(src)
    if weights is None:
        spec, state = import_state(state, registry, arch)
    else:
        importer = registry.get("model", weights.model).importer
        convert = importer.from_official if importer else None
        spec, state = weights.model_spec, convert(state) if convert else state
    resolved = registry.resolve("model", spec, "model")
    model = build_model(registry, resolved, checkpoints=False)
    load_into(model, state, str(src))
    return model, resolved


def convert_checkpoint(src: str | Path, dst: str | Path, registry: Registry, arch: str | None = None,
                       weights: WeightsEntry | None = None) -> tuple[dict[str, Any], int]:
    """Import a foreign checkpoint as a restorefw safetensors file with the model spec in its metadata.

    Args:
        src: the checkpoint (see :func:`restorefw.weights.read_state_dict`).
        dst: the ``.safetensors`` file to write.
        registry: where the importers and the model are registered.
        arch: the model to import as (default: the first importer that recognises the keys).
        weights: a catalog entry (:func:`resolve_weights`): its model and spec are used as they
            are, and its name is kept in the metadata (``"weights"``).

    Returns:
        The resolved model spec and the model's parameter count.
    """
    model, resolved = import_model(src, registry, arch, weights)
    named = {"weights": weights.name} if weights else {}
    save_weights(dst, model.state_dict(), {"model": resolved, "source": Path(src).name, **named})
    return resolved, sum(p.numel() for p in model.parameters())


def export_official(src: str | Path, dst: str | Path, registry: Registry) -> tuple[str, list[str]]:
    """Write a restorefw weights file as a plain safetensors file with the official key names.

    Models that keep the official names (Restormer, IPT) are written as they are; others are
    mapped by their importer's ``to_official`` (MZSR: the authors' TensorFlow names and layouts).
    The file holds no restorefw metadata (only safetensors' ``format``), so other tools read it.

    Returns:
        The model's name and the keys written.

    Raises:
        CheckpointError: ``src`` has no restorefw model metadata, or its model has no official
            key names (it registers no importer).
    """
    meta = read_metadata(src)
    if not isinstance(meta.get("model"), dict):
        raise CheckpointError(f"{src}: no restorefw model metadata; export takes a file written by restorefw")
    name = meta["model"]["type"]
    importer = registry.get("model", name).importer
    if importer is None:
        raise CheckpointError(f"{src}: model '{name}' has no official key names (it registers no importer); "
                              "nothing to export")
    state = read_state_dict(src)
    official = importer.to_official(state) if importer.to_official else state
    save_weights(dst, official)
    return name, sorted(official)
