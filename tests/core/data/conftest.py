"""Shared fixtures for the data tests: raw 16-bit PNG files and a network block."""

from __future__ import annotations

import socket
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.fixture
def write_png16() -> Callable[[Path, np.ndarray], Path]:
    """Writes (H, W) or (H, W, C) uint16 pixels as a 16-bit PNG, independently of restorefw.

    Rows use the Sub filter so that decoding exercises PNG unfiltering.
    """

    def write(path: Path, pixels: np.ndarray) -> Path:
        height, width = pixels.shape[:2]
        channels = 1 if pixels.ndim == 2 else pixels.shape[2]
        data = pixels.astype(">u2").reshape(height, -1).view(np.uint8).astype(np.int64)
        bpp = 2 * channels
        filtered = data.copy()
        filtered[:, bpp:] = (data[:, bpp:] - data[:, :-bpp]) % 256
        rows = np.concatenate([np.ones((height, 1), np.int64), filtered], axis=1)
        header = struct.pack(">IIBBBBB", width, height, 16, _COLOUR_TYPES[channels], 0, 0, 0)
        path.write_bytes(
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows.astype(np.uint8).tobytes()))
            + _chunk(b"IEND", b"")
        )
        return path

    return write


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes any attempt to open a network connection fail loudly."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
