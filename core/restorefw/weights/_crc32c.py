"""CRC-32C (Castagnoli), the checksum of LevelDB tables and TensorFlow tensor bundles.

Pure Python and numpy. A byte-at-a-time table loop in Python manages about 10 MB/s, too slow
for checkpoints, so long inputs are cut into ``k`` equal chunks whose CRC registers advance
together, one numpy step per byte column; the ``k`` registers are then folded in order with
tables that advance a register over one chunk of zero bytes (the CRC is linear over GF(2)).
That runs at about 90 MB/s on one core.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["crc32c", "mask"]

_POLY = 0x82F63B78  # Castagnoli polynomial, bit-reversed (the CRC is computed LSB first)
_MASK_DELTA = 0xA282EAD8
_SCALAR_BELOW = 4096  # shorter inputs are faster in the plain loop than through numpy


def _byte_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _byte_table()
_TABLE_NP = np.array(_TABLE, dtype=np.uint32)


@lru_cache(maxsize=32)
def _zeros_tables(length: int) -> tuple[list[int], ...]:
    """Four tables that advance a register over ``length`` zero bytes, one per register byte."""
    basis = np.array([1 << bit for bit in range(32)], dtype=np.uint32)
    for _ in range(length):
        basis = _TABLE_NP[basis & 0xFF] ^ (basis >> 8)
    tables = []
    for byte in range(4):
        # Entry v is the XOR of the images of v's bits; doubling the table per bit builds all 256.
        table = np.zeros(1, dtype=np.uint32)
        for bit in range(8):
            table = np.concatenate([table, table ^ basis[8 * byte + bit]])
        tables.append(table.tolist())
    return tuple(tables)


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """The CRC-32C of ``data`` (``crc32c(b"123456789") == 0xE3069283``)."""
    size = len(data)
    if size < _SCALAR_BELOW:
        register = 0xFFFFFFFF
        for byte in bytes(data):
            register = _TABLE[(register ^ byte) & 0xFF] ^ (register >> 8)
        return register ^ 0xFFFFFFFF
    chunk = 1 << (size.bit_length() // 2)  # about sqrt(size): as many numpy steps as fold steps
    chunks = -(-size // chunk)
    pad = chunks * chunk - size
    padded = np.zeros(chunks * chunk, dtype=np.uint8)
    padded[pad:] = np.frombuffer(data, dtype=np.uint8)
    # Zero bytes in front of a zero register change nothing, and the initial register value
    # 0xFFFFFFFF equals starting from zero with the first four bytes inverted.
    padded[pad : pad + 4] ^= 0xFF
    registers = np.zeros(chunks, dtype=np.uint32)
    for column in padded.reshape(chunks, chunk).T.copy():
        registers = _TABLE_NP[(registers ^ column) & 0xFF] ^ (registers >> 8)
    t0, t1, t2, t3 = _zeros_tables(chunk)
    register = 0
    for partial in registers.tolist():
        register = (t0[register & 0xFF] ^ t1[(register >> 8) & 0xFF] ^ t2[(register >> 16) & 0xFF]
                    ^ t3[register >> 24] ^ partial)
    return register ^ 0xFFFFFFFF


def mask(crc: int) -> int:
    """The masked form in which LevelDB and TensorFlow store a CRC next to the data it covers."""
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF
