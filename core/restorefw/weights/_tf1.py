"""Read TensorFlow 1 checkpoints (tensor bundles) without TensorFlow.

A checkpoint saved by ``tf.train.Saver`` (format V2, the default since TF 0.12) is named by
a prefix ``P`` and stored as:

- ``P.index``: a LevelDB table (see :mod:`restorefw.weights._leveldb`) from tensor names to
  protobuf messages, in name order.

  - Key ``""``: ``BundleHeaderProto``: 1 num_shards, 2 endianness (0 little, 1 big),
    3 version (``VersionDef``: 2 min_consumer).
  - Any other key: ``BundleEntryProto``: 1 dtype (``DataType`` enum), 2 shape
    (``TensorShapeProto``: 2 dim, a repeated ``Dim`` with 1 size; 3 unknown_rank),
    3 shard_id, 4 offset, 5 size, 6 crc32c (fixed32: the masked CRC32C of the tensor's
    bytes, ``rotr(crc, 15) + 0xa282ead8 mod 2**32``), 7 slices (partitioned variables).

- ``P.data-SSSSS-of-NNNNN``: data shard ``SSSSS`` of ``NNNNN``, the tensors' raw bytes
  (C order, little-endian) at their offsets.

Protobuf wire format: a varint key ``field << 3 | wire type``, then a varint (type 0), a
fixed64 (1), a varint length and that many bytes (2), or a fixed32 (5). Absent fields are 0.
"""

from __future__ import annotations

import math
import os
import re
from collections import defaultdict
from pathlib import Path, PureWindowsPath
from typing import NamedTuple

import torch
from torch import Tensor

from restorefw._errors import CheckpointError
from restorefw.weights._crc32c import crc32c, mask
from restorefw.weights._leveldb import TABLE_MAGIC, table_items, varint

__all__ = ["is_tf1_checkpoint", "read_tf1_checkpoint"]

_BUNDLE_VERSION = 1
_DTYPES = {
    1: torch.float32, 2: torch.float64, 3: torch.int32, 4: torch.uint8, 5: torch.int16, 6: torch.int8,
    8: torch.complex64, 9: torch.int64, 10: torch.bool, 14: torch.bfloat16, 18: torch.complex128,
    19: torch.float16,
}
_OTHER_DTYPES = {7: "DT_STRING", 17: "DT_UINT16", 20: "DT_RESOURCE", 21: "DT_VARIANT", 22: "DT_UINT32",
                 23: "DT_UINT64"}
_DATA_FILE = re.compile(r"\.data-\d{5}-of-\d{5}$")

_Fields = dict[int, list[int | bytes]]


class _Entry(NamedTuple):
    name: str
    dtype: torch.dtype
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc: int


def _fields(message: bytes) -> _Fields:
    """Field number -> values in order: ints, or bytes for length-delimited fields."""
    fields: _Fields = defaultdict(list)
    pos = 0
    while pos < len(message):
        key, pos = varint(message, pos)
        value: int | bytes
        if key & 7 == 0:
            value, pos = varint(message, pos)
        elif key & 7 in (1, 5):
            width = 8 if key & 7 == 1 else 4
            value, pos = int.from_bytes(message[pos : pos + width], "little"), pos + width
        elif key & 7 == 2:
            length, pos = varint(message, pos)
            value, pos = message[pos : pos + length], pos + length
        else:
            raise ValueError(f"unsupported protobuf wire type {key & 7}")
        if pos > len(message):
            raise ValueError("a protobuf field runs past the end of its message")
        fields[key >> 3].append(value)
    return fields


def _number(fields: _Fields, field: int) -> int:
    value = fields[field][-1] if fields.get(field) else 0  # the last occurrence wins
    if not isinstance(value, int):
        raise ValueError(f"protobuf field {field} is not a number")
    return value


def _messages(fields: _Fields, field: int) -> list[bytes]:
    values = [v for v in fields.get(field, []) if isinstance(v, bytes)]
    if len(values) != len(fields.get(field, [])):
        raise ValueError(f"protobuf field {field} is not a message")
    return values


def _entry(name: str, message: bytes) -> _Entry:
    fields = _fields(message)
    code = _number(fields, 1)
    if code not in _DTYPES:
        kind = _OTHER_DTYPES.get(code, f"DataType {code}")
        raise ValueError(f"tensor '{name}' has dtype {kind}, which restorefw cannot read")
    if _messages(fields, 7):
        raise ValueError(f"tensor '{name}' is a partitioned variable, which restorefw cannot read")
    shape_fields = _fields(b"".join(_messages(fields, 2)))
    if _number(shape_fields, 3):
        raise ValueError(f"tensor '{name}' has an unknown rank")
    shape = tuple(_number(_fields(dim), 1) for dim in _messages(shape_fields, 2))
    entry = _Entry(name, _DTYPES[code], shape, shard=_number(fields, 3), offset=_number(fields, 4),
                   size=_number(fields, 5), crc=_number(fields, 6))
    if entry.size != math.prod(shape) * entry.dtype.itemsize:
        raise ValueError(f"tensor '{name}' has {entry.size} bytes for shape {list(shape)} of {entry.dtype}")
    return entry


def _bundle(index: bytes) -> tuple[int, list[_Entry]]:
    """The number of data shards and the tensor entries of an index file's contents."""
    items = table_items(index)
    if not items or items[0][0] != b"":
        raise ValueError("the index has no bundle header (the entry with the empty key)")
    header = _fields(items[0][1])
    if _number(header, 2) != 0:
        raise ValueError("the checkpoint was written on a big-endian machine, which restorefw cannot read")
    if (needed := _number(_fields(b"".join(_messages(header, 3))), 2)) > _BUNDLE_VERSION:
        raise ValueError(f"the bundle needs a reader of version {needed}; this one reads version {_BUNDLE_VERSION}")
    # Keys that start with a zero byte hold the slices of partitioned variables, which
    # _entry refuses through the variable's own entry.
    return _number(header, 1), [_entry(key.decode(), value) for key, value in items[1:] if key[:1] != b"\0"]


def _read_shard(file: Path, entries: list[_Entry]) -> dict[str, Tensor]:
    try:
        stream = file.open("rb")
    except OSError as exc:
        raise CheckpointError(f"{file}: cannot open the data shard of tensor '{entries[0].name}': "
                              f"{exc.strerror}") from None
    tensors = {}
    with stream:
        length = os.fstat(stream.fileno()).st_size
        for entry in sorted(entries, key=lambda e: e.offset):
            if entry.offset + entry.size > length:
                raise CheckpointError(f"{file}: tensor '{entry.name}' needs bytes {entry.offset} to "
                                      f"{entry.offset + entry.size} but the file has {length}: it is truncated")
            stream.seek(entry.offset)
            buffer = bytearray(entry.size)
            stream.readinto(buffer)
            if mask(crc32c(buffer)) != entry.crc:
                raise CheckpointError(f"{file}: tensor '{entry.name}' fails its CRC32C check: the data is corrupt")
            flat = torch.frombuffer(buffer, dtype=entry.dtype) if buffer else torch.empty(0, dtype=entry.dtype)
            tensors[entry.name] = flat.reshape(entry.shape)
    return tensors


def _index(prefix: Path) -> Path:
    return prefix.with_name(prefix.name + ".index")


def _prefix(path: str | os.PathLike[str]) -> Path:
    """The checkpoint prefix named by an ``.index`` file, a data shard, a prefix or a folder."""
    path = Path(path)
    if path.is_dir():
        return _prefix_in_folder(path)
    if path.name.endswith(".index"):
        return path.with_name(path.name[: -len(".index")])
    if match := _DATA_FILE.search(path.name):
        return path.with_name(path.name[: match.start()])
    return path


def _prefix_in_folder(folder: Path) -> Path:
    state = folder / "checkpoint"
    if state.is_file():
        match = re.search(r'^model_checkpoint_path:\s*"(.*)"', state.read_text(errors="replace"), re.MULTILINE)
        if match is None:
            raise CheckpointError(f"{state}: names no model_checkpoint_path")
        named = Path(match.group(1))
        prefix = named if named.is_absolute() else folder / named
        # Saver records the path it was given, often an absolute one: in a copied or
        # downloaded folder the files sit next to the 'checkpoint' file instead.
        beside = folder / PureWindowsPath(match.group(1)).name
        return beside if not _index(prefix).is_file() and _index(beside).is_file() else prefix
    indexes = sorted(folder.glob("*.index"))
    if len(indexes) != 1:
        raise CheckpointError(f"{folder}: no 'checkpoint' file and {len(indexes)} *.index files: "
                              "name the checkpoint's .index file")
    return _prefix(indexes[0])


def read_tf1_checkpoint(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Every tensor of a TensorFlow 1 checkpoint, by variable name in name order.

    Args:
        path: the ``.index`` file, a ``.data-*`` shard, the prefix they share
            (``.../Pretrained``), or a folder: the prefix its ``checkpoint`` file names,
            or else its only ``*.index`` file.

    Returns:
        CPU tensors in TensorFlow's layout (a convolution kernel is height, width, in, out),
        optimizer slots and counters included.

    Raises:
        CheckpointError: a missing, truncated or corrupt file (every checksum is verified),
            or a tensor restorefw cannot represent (strings, resources, partitioned variables,
            big-endian files). The message names the file and, where one is concerned, the tensor.
    """
    prefix = _prefix(path)
    index = _index(prefix)
    try:
        num_shards, entries = _bundle(index.read_bytes())
    except OSError as exc:
        raise CheckpointError(f"{index}: cannot read the checkpoint index: {exc.strerror}") from None
    except ValueError as exc:
        raise CheckpointError(f"{index}: {exc}") from None
    by_shard: dict[int, list[_Entry]] = defaultdict(list)
    for entry in entries:
        if entry.shard >= num_shards:
            raise CheckpointError(f"{index}: tensor '{entry.name}' is in shard {entry.shard} of {num_shards}")
        by_shard[entry.shard].append(entry)
    tensors = {}
    for shard, group in by_shard.items():
        tensors.update(_read_shard(prefix.with_name(f"{prefix.name}.data-{shard:05d}-of-{num_shards:05d}"), group))
    return {entry.name: tensors[entry.name] for entry in entries}


def is_tf1_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a TensorFlow checkpoint, in any form :func:`read_tf1_checkpoint` takes.

    Only the index's magic number is read: the checkpoint may still be corrupt.
    """
    try:
        with _index(_prefix(path)).open("rb") as stream:
            stream.seek(-8, os.SEEK_END)
            return int.from_bytes(stream.read(8), "little") == TABLE_MAGIC
    except (OSError, CheckpointError):
        return False
