"""Write TensorFlow 1 checkpoints (tensor bundles) for tests, without TensorFlow.

Written from the format's public description (LevelDB's table format, TensorFlow's
``tensor_bundle.proto``) and sharing no code with :mod:`restorefw.weights`, so that a
misreading of the format in one cannot hide the same misreading in the other. The files are
what ``tf.train.Saver`` writes for the same variables (byte for byte, for a checkpoint the
tests have from TensorFlow): an uncompressed index, little-endian data, one or more data
shards; on request the index is snappy-compressed, as TensorFlow < 1.2 could write it.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = ["write_tf1_checkpoint"]

_TF_DATATYPE = {
    torch.float32: 1, torch.float64: 2, torch.int32: 3, torch.uint8: 4, torch.int16: 5, torch.int8: 6,
    torch.complex64: 8, torch.int64: 9, torch.bool: 10, torch.bfloat16: 14, torch.complex128: 18,
    torch.float16: 19,
}
_RESTART_INTERVAL = 16  # LevelDB's default for data blocks; index blocks restart at every key
_BLOCK_SIZE = 262144  # TensorFlow's default table block size


def _crc_table() -> list[int]:
    table = []
    for index in range(256):
        value = index
        for _ in range(8):
            value = (value >> 1) ^ (0x82F63B78 * (value & 1))
        table.append(value)
    return table


_CRC_TABLE = _crc_table()


def _masked_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, value: int | bytes) -> bytes:
    """One protobuf field: a varint (wire type 0) or a length-delimited message (wire type 2)."""
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    return _varint(number << 3) + _varint(value)


def _entry(tensor: Tensor, shard: int, offset: int, data: bytes) -> bytes:
    shape = b"".join(_field(2, _field(1, size) if size else b"") for size in tensor.shape)
    # proto3 leaves out fields equal to zero, as TensorFlow's serializer does.
    numbers = b"".join(_field(n, v) for n, v in ((3, shard), (4, offset), (5, len(data))) if v)
    crc = _varint(6 << 3 | 5) + struct.pack("<I", _masked_crc32c(data))
    return _field(1, _TF_DATATYPE[tensor.dtype]) + _field(2, shape) + numbers + crc


class _BlockBuilder:
    """Prefix-compressed keys with a restart point every ``restart_interval`` keys."""

    def __init__(self, restart_interval: int) -> None:
        self.restart_interval = restart_interval
        self.out, self.restarts, self.count, self.previous = bytearray(), [0], 0, b""

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self.count and self.count % self.restart_interval == 0:
            self.restarts.append(len(self.out))
        elif self.count:
            while shared < min(len(key), len(self.previous)) and key[shared] == self.previous[shared]:
                shared += 1
        self.out += _varint(shared) + _varint(len(key) - shared) + _varint(len(value)) + key[shared:] + value
        self.count, self.previous = self.count + 1, key

    def size(self) -> int:
        return len(self.out) + 4 * len(self.restarts) + 4

    def finish(self) -> bytes:
        return bytes(self.out) + struct.pack(f"<{len(self.restarts) + 1}I", *self.restarts, len(self.restarts))


def _index_key(last: bytes, following: bytes | None) -> bytes:
    """LevelDB's short index key: not below the block's last key, below the next block's first key."""
    if following is None:
        for position, byte in enumerate(last):
            if byte != 0xFF:
                return last[:position] + bytes([byte + 1])
        return last
    common = 0
    while common < min(len(last), len(following)) and last[common] == following[common]:
        common += 1
    if common < min(len(last), len(following)) and last[common] + 1 < following[common]:
        return last[:common] + bytes([last[common] + 1])
    return last


def _snappy_literals(data: bytes) -> bytes:
    """Snappy's framing-less format with literals only: valid, though it compresses nothing."""
    out = bytearray(_varint(len(data)))
    for start in range(0, len(data), 60):
        piece = data[start : start + 60]
        out += bytes([(len(piece) - 1) << 2]) + piece  # tag: literal, length - 1 in the upper six bits
    return bytes(out)


def _table(items: list[tuple[bytes, bytes]], block_size: int, snappy: bool) -> bytes:
    """A LevelDB table of ``items`` (sorted), block for block as LevelDB's table builder lays it out."""
    out = bytearray()

    def append_block(block: _BlockBuilder) -> bytes:
        contents = _snappy_literals(block.finish()) if snappy else block.finish()
        kind = b"\x01" if snappy else b"\x00"
        handle = _varint(len(out)) + _varint(len(contents))
        out.extend(contents + kind + struct.pack("<I", _masked_crc32c(contents + kind)))
        return handle

    index, block = _BlockBuilder(1), _BlockBuilder(_RESTART_INTERVAL)
    for position, (key, value) in enumerate(items):
        block.add(key, value)
        following = items[position + 1][0] if position + 1 < len(items) else None
        if block.size() >= block_size or following is None:
            index.add(_index_key(key, following), append_block(block))
            block = _BlockBuilder(_RESTART_INTERVAL)
    handles = append_block(_BlockBuilder(1)) + append_block(index)  # the metaindex is empty
    return bytes(out) + handles + bytes(40 - len(handles)) + struct.pack("<Q", 0xDB4775248B80FB57)


def _raw_bytes(tensor: Tensor) -> bytes:
    # numpy has no bfloat16: its bits go out through a 16-bit integer view.
    return (tensor.view(torch.int16) if tensor.dtype == torch.bfloat16 else tensor).numpy().tobytes()


def write_tf1_checkpoint(
    prefix: str | os.PathLike[str],
    tensors: Mapping[str, np.ndarray | Tensor],
    shards: int = 1,
    *,
    block_size: int = _BLOCK_SIZE,
    snappy: bool = False,
) -> Path:
    """Save ``tensors`` as a TensorFlow 1 checkpoint ``prefix.index`` + ``prefix.data-*``.

    Args:
        prefix: path prefix of the files (``tmp_path / "model.ckpt"``); folders are created.
        tensors: variable name -> array, in TensorFlow's layout (kernels height, width, in, out).
        shards: number of data files; tensors are dealt to them in name order.
        block_size: bytes after which a table data block is closed (small values give many blocks).
        snappy: snappy-compress the index blocks (literals only), as TensorFlow < 1.2 could.

    Returns:
        The ``.index`` file.
    """
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    names = sorted(tensors, key=lambda name: name.encode())
    shard_data = [bytearray() for _ in range(shards)]
    items = []
    for position, name in enumerate(names):
        value = tensors[name]
        tensor = (value if isinstance(value, Tensor) else torch.from_numpy(np.array(value))).detach().cpu()
        data = _raw_bytes(tensor.contiguous())
        shard = position % shards
        items.append((name.encode(), _entry(tensor, shard, len(shard_data[shard]), data)))
        shard_data[shard] += data
    for shard, contents in enumerate(shard_data):
        prefix.with_name(f"{prefix.name}.data-{shard:05d}-of-{shards:05d}").write_bytes(bytes(contents))
    header = _field(1, shards) + _field(3, _field(1, 1))  # num_shards, version {producer: 1}
    index = prefix.with_name(prefix.name + ".index")
    index.write_bytes(_table([(b"", header), *items], block_size, snappy))
    return index
