"""Weights files: safetensors with restorefw metadata, safe ``.pth`` reading, training states.

Every write goes through :func:`atomic_write` (temporary file, fsync, rename), so a crash leaves
the previous file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from restorefw._errors import CheckpointError
from restorefw.weights._tf1 import is_tf1_checkpoint, read_tf1_checkpoint

__all__ = ["atomic_write", "load_state", "read_metadata", "read_state_dict", "save_state", "save_weights",
           "unwrap_state_dict"]

_TORCH_SUFFIXES = (".pth", ".pt", ".ckpt")
_WRAPPER_KEYS = ("params_ema", "params", "state_dict")


def atomic_write(path: str | Path, write: Callable[[str], None]) -> None:
    """Write a file through ``write(tmp_path)``, fsync it, then rename over ``path``.

    A crash at any point leaves either the old file or the new one, never half
    of one. Disk-full or permission errors raise :class:`CheckpointError` and
    keep the previous file.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise CheckpointError(f"cannot write '{path}': {exc.strerror or exc}") from exc
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); run files follow the umask like any other file.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        raise CheckpointError(f"cannot write '{path}': {exc.strerror or exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    """The process umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_weights(path: str | Path, state_dict: dict[str, Tensor], metadata: dict[str, Any] | None = None) -> None:
    """Save weights as safetensors; ``metadata`` values are stored as JSON strings."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    meta = {"format": "pt", **{k: json.dumps(v) for k, v in (metadata or {}).items()}}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON metadata restorefw stored in a safetensors file (empty for other files)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        return {}
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = handle.metadata() or {}
    except Exception as exc:
        raise CheckpointError(f"cannot read checkpoint '{path}': {exc}") from exc
    meta: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            meta[key] = json.loads(value)
        except ValueError:
            meta[key] = value
    return meta


def unwrap_state_dict(obj: Any, source: str) -> dict[str, Tensor]:
    """Unwrap BasicSR/Lightning containers and a DataParallel ``module.`` prefix.

    ``params_ema`` is preferred over ``params`` (BasicSR evaluates the EMA
    weights when both are saved).
    """
    if isinstance(obj, Mapping):
        for key in _WRAPPER_KEYS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()
    ):
        raise CheckpointError(
            f"{source}: not a state dict (expected a mapping of names to tensors, "
            f"optionally under {', '.join(repr(k) for k in _WRAPPER_KEYS)})"
        )
    if all(k.startswith("module.") for k in obj):
        return {k.removeprefix("module."): v for k, v in obj.items()}
    return dict(obj)


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Read weights from ``.safetensors``, safely from ``.pth``/``.pt``/``.ckpt``, or from a
    TensorFlow 1 checkpoint (its ``.index``, prefix or folder), onto the CPU.

    Pickles load with ``weights_only=True``; wrappers are removed by :func:`unwrap_state_dict`.
    TensorFlow tensors keep their names and layouts (see :func:`read_tf1_checkpoint`).

    Raises:
        CheckpointError: missing, unreadable (truncated, corrupt, unsupported
            suffix) or holding no state dict; the message names the file.
    """
    path = Path(path)
    if is_tf1_checkpoint(path):
        return read_tf1_checkpoint(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    suffix = path.suffix.lower()
    if suffix != ".safetensors" and suffix not in _TORCH_SUFFIXES:
        raise CheckpointError(
            f"{path}: unsupported checkpoint suffix {suffix!r} (use .safetensors, {', '.join(_TORCH_SUFFIXES)})"
        )
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        # Loader messages can run to a paragraph; the first line says what went wrong.
        first_line = str(exc).strip().split("\n")[0][:200]
        detail = f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
        raise CheckpointError(f"{path}: cannot read checkpoint (truncated or corrupt?): {detail}") from exc
    return unwrap_state_dict(obj, str(path))


def save_state(path: str | Path, state: dict[str, Any]) -> None:
    """Save a training state (optimizer, scheduler, step, RNG) atomically."""
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_state(path: str | Path) -> dict[str, Any]:
    """Load a training state saved by :func:`save_state` (``weights_only=True``)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot read training state '{path}': {exc}") from exc
