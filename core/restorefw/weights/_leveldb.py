"""Read every entry of a LevelDB table (an SSTable), the container of TensorFlow's checkpoint index.

Layout (LevelDB's ``table_format.md``; TensorFlow's ``core/lib/io`` writes the same):

- Footer, the last 48 bytes: the metaindex and index block handles (each a varint64 offset
  and a varint64 size), zero padding, then the fixed64 magic number ``0xdb4775248b80fb57``.
- Each block is followed by a compression byte (0 none, 1 snappy) and the masked CRC32C
  (fixed32) of the block and that byte.
- A block is a run of entries (varint32 key bytes shared with the previous key, varint32
  unshared key bytes, varint32 value length, the unshared key bytes, the value), then fixed32
  restart offsets and their fixed32 count. Reading every entry in order needs no restarts.
- The index block maps a key to the handle of each data block. The metaindex (filters) is
  not needed to read every entry and is not read.

Integers are little-endian. Errors are :class:`ValueError` with a message for the caller to
prefix with the file name.
"""

from __future__ import annotations

from restorefw.weights._crc32c import crc32c, mask

__all__ = ["TABLE_MAGIC", "table_items", "varint"]

TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER = 48
_TRAILER = 5  # compression byte + masked CRC after each block


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The base-128 varint (protobuf, LevelDB) starting at ``buf[pos]``, and the position after it."""
    value = shift = 0
    while shift < 70:
        if pos >= len(buf):
            raise ValueError("a varint runs past the end of its buffer")
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value, pos
        shift += 7
    raise ValueError("a varint is longer than 10 bytes")


def _block(table: bytes, handle: bytes) -> bytes:
    offset, pos = varint(handle, 0)
    end = offset + varint(handle, pos)[0]
    if end + _TRAILER > len(table) - _FOOTER:
        raise ValueError(f"the block at byte {offset} runs past the end of the table")
    if mask(crc32c(table[offset : end + 1])) != int.from_bytes(table[end + 1 : end + _TRAILER], "little"):
        raise ValueError(f"the block at byte {offset} fails its CRC32C check: the file is corrupt")
    if table[end] == 1:
        raise ValueError("the table is snappy-compressed (TensorFlow < 1.2 wrote such indexes); "
                         "re-save the checkpoint with a newer TensorFlow")
    if table[end] != 0:
        raise ValueError(f"the block at byte {offset} has unknown compression type {table[end]}")
    return table[offset:end]


def _entries(block: bytes) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise ValueError("a block is shorter than its restart count")
    end = len(block) - 4 - 4 * int.from_bytes(block[-4:], "little")
    if end < 0:
        raise ValueError("a block's restart array is longer than the block")
    entries, key, pos = [], b"", 0
    while pos < end:
        shared, pos = varint(block, pos)
        unshared, pos = varint(block, pos)
        length, pos = varint(block, pos)
        if shared > len(key) or pos + unshared + length > end:
            raise ValueError(f"a block entry at byte {pos} does not fit its block")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared + length
        entries.append((key, block[pos - length : pos]))
    return entries


def table_items(table: bytes) -> list[tuple[bytes, bytes]]:
    """Every key and value of the LevelDB table ``table`` (a whole file's bytes), in key order.

    Raises:
        ValueError: not a table, a block that fails its checksum, is compressed or is malformed.
    """
    if len(table) < _FOOTER or int.from_bytes(table[-8:], "little") != TABLE_MAGIC:
        raise ValueError("no LevelDB table magic number at its end (a truncated file, or not a table)")
    metaindex_end = varint(table, varint(table, len(table) - _FOOTER)[1])[1]
    index = _block(table, table[metaindex_end : len(table) - 8])
    return [item for _, handle in _entries(index) for item in _entries(_block(table, handle))]
