"""Reading images into float tensors and writing tensors as PNG files.

Images are float32 tensors of shape (C, H, W) with values in [0, 1]. Reading
follows ``Image.convert("RGB")`` semantics: alpha channels and palette
transparency are dropped, not composited, so fully transparent pixels keep
whatever colour the file stores for them. ICC colour profiles are ignored.
EXIF orientation is applied, so images come out the way viewers show them (in
a PNG, as in web browsers, only an eXIf chunk ahead of the pixel data counts).
"""

from __future__ import annotations

import io
import os
import struct
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from restorefw._errors import DataError
from restorefw.data._decode import decode, header, oriented_size
from restorefw.data._format import ImageFormat, decode_alpha, decode_format

IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".bmp", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp"
)

# ITU-R BT.601 luma weights, the ones Pillow's convert("L") uses.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# What Pillow's plugins and decoders raise for files they cannot parse.
_DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError
)
_T = TypeVar("_T")
# Channels → (Pillow mode for 8 bits, PNG colour type for 16 bits).
_PNG_MODES = {1: ("L", 0), 2: ("LA", 4), 3: ("RGB", 2), 4: ("RGBA", 6)}


def read_image(path: str | Path, channels: int = 3) -> Tensor:
    """Reads an image file as a float32 (C, H, W) tensor in [0, 1].

    8-bit images are divided by 255 and 16-bit ones (PNG or TIFF, grey or
    colour) by 65535. Grey images are replicated to three channels; colour
    images are reduced to BT.601 luma when ``channels`` is 1.

    Args:
        path: the image file.
        channels: 3 for RGB, 1 for grey.

    Returns:
        The image, of shape (channels, H, W).

    Raises:
        DataError: the file is missing, a folder, not an image, truncated or
            corrupt, or in an unsupported pixel format; the message names it.
    """
    path = Path(path)
    if channels not in (1, 3):
        raise _cannot_read(path, f"channels must be 1 or 3, got {channels}")
    pixels = _guarded(path, decode)
    if pixels.ndim == 2:
        pixels = pixels[None] if channels == 1 else np.repeat(pixels[None], 3, axis=0)
    else:
        pixels = pixels.transpose(2, 0, 1)
        if channels == 1:
            # Weights sum to 1 only up to float rounding, hence the clip.
            pixels = np.clip(np.tensordot(_LUMA, pixels, axes=1)[None], 0.0, 1.0)
    return torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))


def image_size(path: str | Path) -> tuple[int, int]:
    """Height and width of an image file, after EXIF orientation, from its header alone.

    Args:
        path: the image file.

    Returns:
        ``(height, width)`` as :func:`read_image` would return it.

    Raises:
        DataError: the file is missing, a folder or not an image.
    """
    return _guarded(Path(path), oriented_size)


def image_shape(path: str | Path) -> tuple[int, int, int]:
    """``(channels, height, width)`` of an image file as stored, from its header alone.

    ``channels`` is 1 for grey files (with or without alpha) and 3 for colour
    and palette ones: what :func:`read_image` keeps when asked for the file's
    own channel count. Height and width are after EXIF orientation.

    Args:
        path: the image file.

    Raises:
        DataError: the file is missing, a folder or not an image.
    """
    height, width, channels = _guarded(Path(path), header)
    return channels, height, width


def image_format(path: str | Path) -> ImageFormat:
    """Grey or colour, alpha or not, 8 or 16 bits: how an image file stores its pixels (header only).

    Raises:
        DataError: the file is missing, a folder or not an image.
    """
    return _guarded(Path(path), decode_format)


def read_alpha(path: str | Path) -> Tensor | None:
    """The alpha channel of an image file as a float32 (1, H, W) tensor in [0, 1], or ``None``.

    Raises:
        DataError: the file is missing, a folder, not an image, truncated or corrupt.
    """
    alpha = _guarded(Path(path), decode_alpha)
    return None if alpha is None else torch.from_numpy(np.ascontiguousarray(alpha))[None]


def write_image(path: str | Path, img: Tensor, bit_depth: int = 8) -> None:
    """Writes a (C, H, W) or (1, C, H, W) tensor as a PNG file: grey, grey + alpha, RGB or RGBA.

    Values are clamped to [0, 1] and rounded to the nearest level. Parent
    folders are created. The file is written under a temporary name in the same
    folder and then renamed, so readers never see a partly written image.

    Args:
        path: the ``.png`` file to write; replaced if it exists.
        img: the image, values in [0, 1], with 1, 2, 3 or 4 channels (the last of 2 or 4 is alpha).
        bit_depth: 8 or 16 bits per channel.

    Raises:
        DataError: bad file name, bit depth, tensor shape or NaN values, or the
            file cannot be written; the message names the file.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise _cannot_write(path, "expected a file name ending in .png")
    if bit_depth not in (8, 16):
        raise _cannot_write(path, f"bit_depth must be 8 or 16, got {bit_depth}")
    if img.dim() == 4 and img.shape[0] == 1:
        img = img[0]
    if img.dim() != 3 or img.shape[0] not in _PNG_MODES:
        raise _cannot_write(
            path,
            f"expected a (C, H, W) or (1, C, H, W) tensor with 1 to 4 channels, got shape {tuple(img.shape)}",
        )
    if torch.isnan(img).any():
        raise _cannot_write(path, "the image contains NaN values")
    levels = 2**bit_depth - 1
    quantised = (img.detach().to("cpu", torch.float64).clamp(0, 1) * levels).round()
    pixels = quantised.to(torch.int32).numpy().transpose(1, 2, 0)
    if pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if bit_depth == 8:
        buffer = io.BytesIO()
        Image.fromarray(pixels.astype(np.uint8), mode=_PNG_MODES[img.shape[0]][0]).save(buffer, format="PNG")
        data = buffer.getvalue()
    else:
        data = _encode_png16(pixels.astype(np.uint16), _PNG_MODES[img.shape[0]][1])
    _write_atomically(path, data)


def _guarded(path: Path, read: Callable[[Path], _T]) -> _T:
    """Runs ``read(path)``, turning every way a file can be unreadable into a DataError."""
    if path.is_dir():
        raise _cannot_read(path, "it is a folder, expected an image file")
    if not path.exists():
        raise _cannot_read(path, "no such file")
    try:
        return read(path)
    except UnidentifiedImageError:
        raise _cannot_read(path, "not an image file in a format Pillow can read") from None
    except _DECODE_ERRORS as error:
        raise _cannot_read(path, str(error) or type(error).__name__) from error


def _encode_png16(pixels: np.ndarray, colour_type: int) -> bytes:
    """Encodes (H, W) or (H, W, C) uint16 pixels as PNG; Pillow cannot write 16-bit colour or alpha."""
    height, width = pixels.shape[:2]
    rows = pixels.astype(">u2").reshape(height, -1).view(np.uint8)
    # Every scanline starts with its filter type; 0 means unfiltered.
    scanlines = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 6)),
            _png_chunk(b"IEND", b""),
        ]
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


def _write_atomically(path: Path, data: bytes) -> None:
    # A hidden name that no image folder lists; open() rather than mkstemp so
    # that the file gets the usual permissions.
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(temp, "xb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    except OSError as error:
        raise _cannot_write(path, error.strerror or str(error)) from error


def _cannot_read(path: Path, reason: str) -> DataError:
    return DataError(f"cannot read image '{path}': {reason}")


def _cannot_write(path: Path, reason: str) -> DataError:
    return DataError(f"cannot write image '{path}': {reason}")
