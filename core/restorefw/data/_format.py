"""What an image file holds besides its colour: grey or colour, an alpha channel, 8 or 16 bits.

``restore`` reads these so that its outputs keep them: a grey input gives a grey output, an alpha
channel is carried over (resized with the image for super-resolution), 16-bit files stay 16-bit.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from restorefw.data._decode import (
    _COLOUR16,
    _GREY16_MODES,
    _OTHER_ORDER,
    _PNG_GREY_ALPHA16,
    _decode_with,
    _join_bytes,
    _opened,
    _rawmode,
    _upright,
    header,
)

__all__ = ["ImageFormat", "decode_alpha", "decode_format"]


class ImageFormat(NamedTuple):
    """How an image file stores its pixels.

    Attributes:
        channels: 1 (grey) or 3 (colour), as :func:`restorefw.data.read_image` sees the file.
        alpha: the file has an alpha channel (or palette transparency).
        bits: 16 for 16-bit samples, else 8.
    """

    channels: int
    alpha: bool
    bits: int


def decode_format(path: Path) -> ImageFormat:
    """The :class:`ImageFormat` of a file, from its header."""
    _, _, channels = header(path)
    with _opened(path) as im:
        raw = _rawmode(im) or ""
        alpha = im.mode in ("LA", "RGBA", "PA") or raw.startswith(("LA", "RGBA")) or (
            im.mode == "P" and "transparency" in im.info)
        sixteen = im.mode in _GREY16_MODES or im.mode == "I" or ";16" in raw
    return ImageFormat(channels, alpha, 16 if sixteen else 8)


def decode_alpha(path: Path) -> np.ndarray | None:
    """The alpha channel of a file as float32 (H, W) in [0, 1], upright; ``None`` without one.

    16-bit alpha keeps its 16 bits in PNG files (Pillow alone would keep the high byte).
    """
    if not decode_format(path).alpha:
        return None
    with _opened(path) as im:
        raw = _rawmode(im) or ""
        if raw == _PNG_GREY_ALPHA16 and im.format == "PNG":
            data = _decode_with(path, "RGBA")
            alpha: np.ndarray = _join_bytes(data[..., 2], data[..., 3])
            return alpha.astype(np.float32)
        colour16 = _COLOUR16.fullmatch(raw)
        if colour16 is not None and colour16[1] == "RGBA":
            # As for the colour samples in decode(): the file's own raw mode keeps each high byte, the
            # other byte order the low one.
            high = _decode_with(path, colour16[0])[..., 3]
            low = _decode_with(path, f"RGBA;16{_OTHER_ORDER[colour16[2]]}")[..., 3]
            return _join_bytes(high, low).astype(np.float32)
        return np.asarray(_upright(im).convert("RGBA"), dtype=np.float32)[..., 3] / 255
