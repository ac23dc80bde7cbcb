"""Model composition: parts from different plugins assembled into one model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from restorefw._errors import ConfigError

__all__ = [
    "EncoderDecoder",
    "check_parts_fit",
    "infer_model_spec",
    "load_into",
    "load_model",
    "model_cpu_channels_last",
    "model_scale",
    "model_size_multiple",
]


def model_scale(model: nn.Module) -> int:
    """Output size / input size of a model (1 unless it says otherwise)."""
    return int(getattr(model, "scale", 1))


def model_cpu_channels_last(model: nn.Module) -> bool:
    """Whether the model runs faster on channels-last inputs on the CPU (``cpu_channels_last``)."""
    return bool(getattr(model, "cpu_channels_last", False))


def model_size_multiple(model: nn.Module) -> int:
    """Input sizes the model accepts must be multiples of this."""
    return int(getattr(model, "size_multiple", 1))


def check_parts_fit(encoder: nn.Module, decoder: nn.Module) -> None:
    """Raise :class:`ConfigError` when the encoder's features do not fit the decoder.

    Both parts must declare ``out_channels`` / ``in_channels`` (lists, one per
    feature level, shallow to deep) for the check to run.
    """
    produced = getattr(encoder, "out_channels", None)
    expected = getattr(decoder, "in_channels", None)
    if produced is None or expected is None:
        return
    if list(produced) != list(expected):
        raise ConfigError(
            f"encoder {type(encoder).__name__} produces features with channels {list(produced)} "
            f"but decoder {type(decoder).__name__} expects {list(expected)}",
            path="model",
        )
    for attr in ("size_multiple",):
        a, b = getattr(encoder, attr, 1), getattr(decoder, attr, 1)
        if a != b and max(a, b) % min(a, b):
            raise ConfigError(f"encoder {attr}={a} and decoder {attr}={b} are incompatible", path="model")


class EncoderDecoder(nn.Module):
    """``decoder(encoder(x), x)`` with parameters under ``encoder.*`` and ``decoder.*``.

    Args:
        encoder: maps an image to a list of features.
        decoder: maps ``(features, image)`` to the restored image.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        check_parts_fit(encoder, decoder)
        self.encoder = encoder
        self.decoder = decoder
        self.scale = model_scale(decoder)
        self.size_multiple = max(model_size_multiple(encoder), model_size_multiple(decoder))
        self.value_range: Any = getattr(decoder, "value_range", (0.0, 1.0))
        self.cpu_channels_last = model_cpu_channels_last(encoder) and model_cpu_channels_last(decoder)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x), x)

    @property
    def exact_tiling(self) -> bool:
        """Whether :meth:`forward_tiled` works: the decoder knows how to tile with this encoder."""
        return self._exact_tiler() is not None

    def forward_tiled(self, x: Tensor, tile: int) -> Tensor:
        """Exact tiled inference of the composition, when the decoder offers it for this encoder.

        Decoders opt in with ``exact_tiling_with(encoder)``, returning a ``(x, tile) -> output``
        function or ``None`` (see :class:`restorefw._tiling.ExactTiling`).
        """
        tiler = self._exact_tiler()
        if tiler is None:
            raise ValueError(f"{type(self.decoder).__name__} has no exact tiling with {type(self.encoder).__name__}")
        return tiler(x, tile)

    def _exact_tiler(self) -> Callable[[Tensor, int], Tensor] | None:
        make = getattr(self.decoder, "exact_tiling_with", None)
        return make(self.encoder) if make is not None else None


def load_into(module: nn.Module, state: dict[str, Tensor], source: str, strict: bool = True) -> list[str]:
    """Load ``state`` into ``module``, finding the key prefix the module lives under.

    A checkpoint of a composed model (``encoder.*``, ``decoder.*``) can thus
    initialise just its encoder. Returns the module keys that were missing
    (only when not strict). Raises :class:`CheckpointError` listing what differs.
    """
    from restorefw._errors import CheckpointError

    own = module.state_dict()
    if not own:
        return []
    prefix = _find_prefix(list(own), state)
    picked = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    missing = sorted(set(own) - set(picked))
    unexpected = sorted(set(picked) - set(own)) if strict else []
    wrong = sorted(k for k in set(own) & set(picked) if own[k].shape != picked[k].shape)
    if (missing and strict) or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing if strict else []), ("unexpected", unexpected)):
            if keys:
                parts.append(f"{len(keys)} {label} keys ({', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''})")
        if wrong:
            shown = ", ".join(f"{k}: {tuple(picked[k].shape)} vs {tuple(own[k].shape)}" for k in wrong[:5])
            parts.append(f"{len(wrong)} shape mismatches ({shown})")
        raise CheckpointError(f"checkpoint '{source}' does not fit {type(module).__name__}: " + "; ".join(parts))
    with torch.no_grad():
        for key, tensor in own.items():
            if key in picked:
                tensor.copy_(picked[key])
    return missing


def _find_prefix(keys: list[str], state: dict[str, Tensor]) -> str:
    if keys[0] in state:
        return ""
    for candidate in (k[: -len(keys[0])] for k in state if k.endswith("." + keys[0])):
        if all(candidate + k in state for k in keys):
            return candidate
    return ""


def load_model(path: str, registry: Any) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model from a restorefw weights file (its metadata names the model spec).

    Returns:
        The model with its weights, and the file's metadata.
    """
    from restorefw._errors import CheckpointError
    from restorefw.engine import read_metadata, read_state_dict

    meta = read_metadata(path)
    if "model" not in meta:
        raise CheckpointError(
            f"checkpoint '{path}' has no restorefw model metadata; import it first with 'restorefw convert'"
        )
    spec = {k: v for k, v in meta["model"].items() if k != "checkpoint"}
    model = registry.build("model", registry.resolve("model", spec, "model"))
    load_into(model, read_state_dict(path), path)
    return model, meta


def infer_model_spec(state: dict[str, Tensor], registry: Any, arch: str | None = None) -> dict[str, Any]:
    """Find the registered model whose ``infer_spec`` tag recognises a foreign state dict."""
    from restorefw._errors import CheckpointError

    candidates = [e for e in registry.list("model") if "infer_spec" in e.tags and (arch is None or e.name == arch)]
    if arch is not None and not candidates:
        raise CheckpointError(f"model '{arch}' cannot import checkpoints (it registers no infer_spec)")
    for entry in candidates:
        spec = entry.tags["infer_spec"](state)
        if spec is not None:
            return {"type": entry.name, **spec}
    names = ", ".join(e.name for e in candidates) or "none"
    raise CheckpointError(f"no registered model recognises these {len(state)} keys (tried: {names})")
