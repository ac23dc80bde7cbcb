"""Model composition: parts from different plugins assembled into one model."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from restorefw._errors import ConfigError
from restorefw.models._info import ModelInfo, describe

__all__ = ["EncoderDecoder", "check_parts_fit"]


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
    a, b = describe(encoder).size_multiple, describe(decoder).size_multiple
    if a != b and max(a, b) % min(a, b):
        raise ConfigError(f"encoder size_multiple={a} and decoder size_multiple={b} are incompatible", path="model")


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

    @property
    def model_info(self) -> ModelInfo:
        """The decoder's output side, the encoder's input side, the stricter size multiple."""
        enc, dec = describe(self.encoder), describe(self.decoder)
        return dec.with_changes(
            in_channels=enc.in_channels,
            size_multiple=max(enc.size_multiple, dec.size_multiple),
            cpu_channels_last=enc.cpu_channels_last and dec.cpu_channels_last,
            exact_tiling=self.exact_tiling,
        )

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
