"""Decoding image files with Pillow into float arrays, upright and at full bit depth.

Errors are Pillow's own; callers turn them into ``DataError``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageFile

_GREY16_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
# Modes that _pixels returns as one grey channel ("F" is refused there, so it never counts).
_GREY_MODES = ("1", "L", "LA", "I", *_GREY16_MODES)
# Pillow has no 16-bit colour modes: it unpacks 16-bit colour samples (in PNG
# and TIFF files) to 8 bits by keeping their high byte.
_COLOUR16 = re.compile(r"(RGB|RGBA|RGBX);16([BLN])")
# Unpacking in the other byte order keeps the low byte instead ("N" is native).
_OTHER_ORDER = {"B": "L", "L": "B", "N": "B" if sys.byteorder == "little" else "L"}
# 16-bit grey with alpha, which Pillow's PNG plugin unpacks to 8-bit RGBA.
_PNG_GREY_ALPHA16 = "LA;16B"

# The transpose that undoes each EXIF orientation, as in ImageOps.exif_transpose.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Those that swap width and height.
_QUARTER_TURNS = (
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_270,
)


MAX_PIXELS_VAR = "RESTOREFW_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 100_000_000
"""Largest image decoded (width × height), unless ``RESTOREFW_MAX_IMAGE_PIXELS`` says otherwise:
a few hundred bytes of PNG can declare 144 megapixels and take gigabytes to decode."""


def max_pixels() -> int:
    """The pixel limit in force (``RESTOREFW_MAX_IMAGE_PIXELS``, else :data:`DEFAULT_MAX_PIXELS`)."""
    text = os.environ.get(MAX_PIXELS_VAR, "").strip()
    try:
        return int(text) if text else DEFAULT_MAX_PIXELS
    except ValueError:
        raise ValueError(f"{MAX_PIXELS_VAR}={text!r} is not a whole number of pixels") from None


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[ImageFile.ImageFile]:
    """The image file opened, its size checked against :func:`max_pixels` before any pixel is decoded."""
    with warnings.catch_warnings():
        # Pillow warns between its own limit and twice it; the limit here is the one that counts.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            width, height = im.size
            if width * height > max_pixels():
                raise ValueError(f"{width}x{height} is {width * height / 1e6:.0f} megapixels, over the limit of "
                                 f"{max_pixels() / 1e6:.0f} (set {MAX_PIXELS_VAR} to allow larger images)")
            yield im


def decode(path: Path) -> np.ndarray:
    """Pixels of an image file as float32 in [0, 1]: (H, W) grey or (H, W, 3) RGB."""
    with _opened(path) as im:
        rawmode = _rawmode(im)
        if rawmode == _PNG_GREY_ALPHA16 and im.format == "PNG":
            # Unpacked as 8-bit RGBA, each pixel's four bytes come out
            # unchanged: grey high, grey low, alpha high, alpha low.
            data = _decode_with(path, "RGBA")
            return _join_bytes(data[..., 0], data[..., 1])
        colour16 = _COLOUR16.fullmatch(rawmode or "")
        if colour16 is not None:
            low_rawmode = f"{colour16[1]};16{_OTHER_ORDER[colour16[2]]}"
            high = _decode_with(path, colour16[0])[..., :3]
            return _join_bytes(high, _decode_with(path, low_rawmode)[..., :3])
        return _pixels(_upright(im))


def _pixels(im: Image.Image) -> np.ndarray:
    """Pixels of an 8-bit or 16-bit grey Pillow image, or of any other as 8-bit RGB."""
    if im.mode in _GREY16_MODES:
        return np.asarray(im, dtype=np.float32) / 65535
    if im.mode == "I":
        values = np.asarray(im)
        low, high = int(values.min()), int(values.max())
        if low < 0 or high > 65535:
            raise ValueError(
                f"32-bit integer pixels range from {low} to {high}, "
                "expected 16-bit values in 0..65535"
            )
        return values.astype(np.float32) / 65535
    if im.mode == "F":
        raise ValueError("32-bit float images are not supported, expected 8- or 16-bit integers")
    if im.mode in ("1", "L", "LA"):
        return np.asarray(im.convert("L"), dtype=np.float32) / 255
    if im.mode in ("P", "PA"):
        # Going through RGBA keeps Pillow from warning about palette transparency.
        im = im.convert("RGBA")
    return np.asarray(im.convert("RGB"), dtype=np.float32) / 255


def _rawmode(im: ImageFile.ImageFile) -> str | None:
    """How the file stores its pixels, as the raw mode of Pillow's first tile."""
    if not im.tile:
        return None
    args = im.tile[0].args
    rawmode = args[0] if isinstance(args, tuple) and args else args
    return rawmode if isinstance(rawmode, str) else None


def _join_bytes(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """16-bit samples from their high and low bytes, scaled to [0, 1]."""
    pixels: np.ndarray = (high * 256 + low) / 65535
    return pixels


def _decode_with(path: Path, rawmode: str) -> np.ndarray:
    """Decodes a file with another raw mode of the same bits per pixel, as float32."""
    with _opened(path) as im:
        im.tile = [
            tile._replace(args=(rawmode, *tile.args[1:]) if isinstance(tile.args, tuple) else rawmode)
            for tile in im.tile
        ]
        return np.asarray(_upright(im), dtype=np.float32)


def _upright(im: Image.Image) -> Image.Image:
    """The image turned the way its EXIF orientation says viewers should show it."""
    transpose = _upright_transpose(im)
    return im if transpose is None else im.transpose(transpose)


def _upright_transpose(im: Image.Image) -> Image.Transpose | None:
    """The transpose that undoes the EXIF orientation, found without decoding pixels.

    In a PNG only an eXIf chunk ahead of the pixel data counts, as in web
    browsers: Pillow's ``getexif()`` would decode the image to look further.
    """
    if im.format == "PNG":
        exif = Image.Exif()
        if "exif" in im.info:
            exif.load(im.info["exif"])
    else:
        exif = im.getexif()
    orientation = exif.get(ExifTags.Base.Orientation)
    # Broken EXIF can hold anything here; only the eight defined values count.
    return _UPRIGHT.get(orientation) if isinstance(orientation, int) else None


def oriented_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` of an image file after EXIF orientation, read from its header."""
    height, width, _ = header(path)
    return height, width


def header(path: Path) -> tuple[int, int, int]:
    """``(height, width, channels)`` as :func:`decode` would give them, read from the header.

    ``channels`` is 1 for the files :func:`decode` returns as (H, W) grey and 3 for the others.
    """
    with _opened(path) as im:
        width, height = im.size
        if _upright_transpose(im) in _QUARTER_TURNS:
            width, height = height, width
        grey = im.mode in _GREY_MODES or (_rawmode(im) == _PNG_GREY_ALPHA16 and im.format == "PNG")
    return height, width, 1 if grey else 3
