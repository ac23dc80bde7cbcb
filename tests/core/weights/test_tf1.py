"""TensorFlow 1 checkpoint reader: round trips through the test writer, damaged files, the MZSR authors' checkpoint."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest
import torch

from restorefw import CheckpointError
from restorefw.testing._tf1_bundle import _field, _masked_crc32c, _table, write_tf1_checkpoint
from restorefw.weights import is_tf1_checkpoint, read_tf1_checkpoint
from restorefw.weights._crc32c import crc32c, mask

FIXTURES = (Path(__file__).parents[3] / ".." / "shared" / "fixtures").resolve()
MZSR_CHECKPOINT = FIXTURES / "mzsr_official" / "checkpoint"
needs_mzsr_checkpoint = pytest.mark.skipif(
    not MZSR_CHECKPOINT.is_dir(),
    reason=f"the MZSR authors' checkpoint is not at {MZSR_CHECKPOINT} (../shared/fixtures beside the repository)",
)
_HEADER = _field(1, 1) + _field(3, _field(1, 1))  # one shard, version {producer: 1}


def _tensors() -> dict[str, torch.Tensor | np.ndarray]:
    generator = torch.Generator().manual_seed(0)
    return {
        "conv/kernel": torch.randn(3, 3, 4, 5, generator=generator),
        "conv/bias": torch.randn(5, generator=generator, dtype=torch.float64),
        "half": torch.randn(2, 7, generator=generator).half(),
        "brain": torch.randn(9, generator=generator).bfloat16(),
        "bytes": torch.randint(0, 256, (17,), generator=generator, dtype=torch.uint8),
        "signed": torch.randint(-128, 128, (2, 3), generator=generator, dtype=torch.int8),
        "short": torch.randint(-1000, 1000, (4,), generator=generator, dtype=torch.int16),
        "global_step": torch.tensor(500_000, dtype=torch.int32),
        "long": np.arange(-6, 6, dtype=np.int64).reshape(3, 4),
        "mask": torch.rand(4, 4, generator=generator) > 0.5,
        "complex": torch.randn(3, generator=generator, dtype=torch.complex64),
        "empty": torch.zeros(0, 3),
        "scope/deep/name/with/many/parts": torch.ones(1),
    }


def _assert_same(read: dict[str, torch.Tensor], written: Mapping[str, torch.Tensor | np.ndarray]) -> None:
    assert list(read) == sorted(written)
    for name, value in written.items():
        expected = torch.as_tensor(value)
        assert read[name].dtype == expected.dtype, name
        assert torch.equal(read[name], expected), name


def test_crc32c_check_values_and_long_inputs() -> None:
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720, B.4
    assert crc32c(bytes(range(32))) == 0x46DD794E
    data = np.random.default_rng(0).integers(0, 256, 100_003, dtype=np.uint8).tobytes()
    # Lengths around the switch to the chunked numpy path, against the writer's own byte loop.
    for size in (0, 1, 4095, 4096, 4097, 65_536, 100_003):
        assert mask(crc32c(data[:size])) == _masked_crc32c(data[:size]), size


@pytest.mark.parametrize(("shards", "block_size"), [(1, 262_144), (3, 262_144), (2, 40), (5, 1)])
def test_round_trip_dtypes_shards_and_blocks(tmp_path: Path, shards: int, block_size: int) -> None:
    tensors = _tensors()
    write_tf1_checkpoint(tmp_path / "model.ckpt-100", tensors, shards=shards, block_size=block_size)
    assert len(list(tmp_path.glob(f"model.ckpt-100.data-*-of-{shards:05d}"))) == shards
    _assert_same(read_tf1_checkpoint(tmp_path / "model.ckpt-100"), tensors)


def test_many_tensors_over_many_blocks_and_restarts(tmp_path: Path) -> None:
    tensors = {f"layer{i:03d}/kernel": torch.full((2, i % 3), float(i)) for i in range(200)}
    write_tf1_checkpoint(tmp_path / "m", tensors, shards=4, block_size=512)
    _assert_same(read_tf1_checkpoint(tmp_path / "m"), tensors)


def test_path_forms(tmp_path: Path) -> None:
    tensors = {"w": torch.arange(6.0).reshape(2, 3)}
    index = write_tf1_checkpoint(tmp_path / "single" / "Pretrained", tensors)
    forms: list[str | Path] = [index, tmp_path / "single" / "Pretrained", tmp_path / "single",
             tmp_path / "single" / "Pretrained.data-00000-of-00001", str(index)]
    for form in forms:
        assert is_tf1_checkpoint(form), form
        _assert_same(read_tf1_checkpoint(form), tensors)


def test_folder_uses_the_checkpoint_state_file(tmp_path: Path) -> None:
    write_tf1_checkpoint(tmp_path / "model.ckpt-1", {"step": torch.tensor(1)})
    write_tf1_checkpoint(tmp_path / "model.ckpt-2", {"step": torch.tensor(2)})
    with pytest.raises(CheckpointError, match=r"no 'checkpoint' file and 2 \*\.index files"):
        read_tf1_checkpoint(tmp_path)
    state = tmp_path / "checkpoint"
    state.write_text('model_checkpoint_path: "model.ckpt-2"\nall_model_checkpoint_paths: "model.ckpt-1"\n'
                     'all_model_checkpoint_paths: "model.ckpt-2"\n')
    assert read_tf1_checkpoint(tmp_path)["step"] == 2
    # Saver writes the path it was given; a folder copied from elsewhere still has its files beside it.
    state.write_text('model_checkpoint_path: "/nowhere/train/model.ckpt-1"\n')
    assert read_tf1_checkpoint(tmp_path)["step"] == 1
    state.write_text("all_model_checkpoint_paths: \"model.ckpt-1\"\n")
    with pytest.raises(CheckpointError, match="names no model_checkpoint_path"):
        read_tf1_checkpoint(tmp_path)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    for path in (tmp_path, tmp_path / "notes.txt", tmp_path / "absent", tmp_path / "absent.index"):
        assert not is_tf1_checkpoint(path)
    with pytest.raises(CheckpointError, match=r"absent\.index: cannot read the checkpoint index"):
        read_tf1_checkpoint(tmp_path / "absent")


def _written(tmp_path: Path, shards: int = 1) -> Path:
    # One shard: "a" sits at offset 0 of the data file, "b" right after it.
    tensors = {"a": torch.arange(64, dtype=torch.float32), "b": torch.arange(32, dtype=torch.int64)}
    return write_tf1_checkpoint(tmp_path / "ckpt", tensors, shards=shards)


def test_flipped_data_byte_fails_the_checksum_naming_the_tensor(tmp_path: Path) -> None:
    _written(tmp_path)
    data = tmp_path / "ckpt.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[5] ^= 0x10
    data.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"ckpt\.data-00000-of-00001: tensor 'a' fails its CRC32C check"):
        read_tf1_checkpoint(tmp_path / "ckpt")


def test_truncated_shard(tmp_path: Path) -> None:
    _written(tmp_path)
    data = tmp_path / "ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:300])
    with pytest.raises(CheckpointError, match=r"ckpt\.data-00000-of-00001: tensor 'b' needs bytes 256 to 512 but "
                                              r"the file has 300: it is truncated"):
        read_tf1_checkpoint(tmp_path / "ckpt")


def test_missing_shard(tmp_path: Path) -> None:
    _written(tmp_path, shards=2)
    os.remove(tmp_path / "ckpt.data-00001-of-00002")
    with pytest.raises(CheckpointError, match=r"ckpt\.data-00001-of-00002: cannot open the data shard of tensor 'b'"):
        read_tf1_checkpoint(tmp_path / "ckpt")


def test_corrupt_index_block(tmp_path: Path) -> None:
    index = _written(tmp_path)
    raw = bytearray(index.read_bytes())
    raw[10] ^= 0x01
    index.write_bytes(bytes(raw))
    assert is_tf1_checkpoint(index)  # only the magic number is looked at
    with pytest.raises(CheckpointError, match=r"ckpt\.index: the block at byte 0 fails its CRC32C check"):
        read_tf1_checkpoint(index)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda raw: raw[:-1] + b"\x00", "no LevelDB table magic number"),
    (lambda raw: raw[:20], "no LevelDB table magic number"),
    (lambda raw: b"", "no LevelDB table magic number"),
    (lambda raw: raw[:30] + raw[-48:], "runs past the end of the table"),
])
def test_damaged_index(tmp_path: Path, damage: Callable[[bytes], bytes], message: str) -> None:
    index = _written(tmp_path)
    index.write_bytes(damage(index.read_bytes()))
    with pytest.raises(CheckpointError, match=rf"ckpt\.index: .*{message}"):
        read_tf1_checkpoint(index)


def test_snappy_index_is_refused_clearly(tmp_path: Path) -> None:
    index = write_tf1_checkpoint(tmp_path / "old", {"w": torch.ones(3)}, snappy=True)
    with pytest.raises(CheckpointError, match=r"old\.index: the table is snappy-compressed \(TensorFlow < 1\.2"):
        read_tf1_checkpoint(index)


@pytest.mark.parametrize(("header", "entry", "message"), [
    (_HEADER, _field(1, 7) + _field(2, b""), "tensor 'odd' has dtype DT_STRING, which restorefw cannot read"),
    (_HEADER, _field(1, 20) + _field(2, b""), "tensor 'odd' has dtype DT_RESOURCE"),
    (_HEADER, _field(1, 1) + _field(2, _field(2, _field(1, 4))) + _field(7, b""),
     "tensor 'odd' is a partitioned variable"),
    (_HEADER, _field(1, 1) + _field(2, _field(2, _field(1, 4))) + _field(5, 12),
     r"tensor 'odd' has 12 bytes for shape \[4\] of torch.float32"),
    (_HEADER, _field(1, 1) + _field(2, _field(3, 1)), "tensor 'odd' has an unknown rank"),
    (_HEADER, _field(1, 1) + _field(2, b"") + _field(3, 1) + _field(5, 4), r"tensor 'odd' is in shard 1 of 1"),
    (_field(1, 1) + _field(2, 1), b"", "written on a big-endian machine"),
    (_field(1, 1) + _field(3, _field(2, 2)), b"", "the bundle needs a reader of version 2"),
    (None, b"", r"no bundle header"),
    (_HEADER, b"\x0b", "unsupported protobuf wire type 3"),
    (_HEADER, _field(1, 1) + _field(2, b"\x12\x05\x08"), "runs past the end of its message"),
])
def test_index_entries_that_cannot_be_read(tmp_path: Path, header: bytes | None, entry: bytes, message: str) -> None:
    items = ([(b"", header)] if header is not None else []) + [(b"odd", entry)]
    (tmp_path / "x.index").write_bytes(_table(items, 262_144, False))
    with pytest.raises(CheckpointError, match=rf"x\.index: .*{message}"):
        read_tf1_checkpoint(tmp_path / "x")


_MZSR_VARIABLES = [f"MODEL/conv{i}/{kind}{slot}" for i in range(1, 9) for kind in ("bias", "kernel")
                   for slot in ("", "/Adam", "/Adam_1")]


@needs_mzsr_checkpoint
def test_mzsr_authors_checkpoint() -> None:
    state = read_tf1_checkpoint(MZSR_CHECKPOINT)
    assert list(state) == [*_MZSR_VARIABLES, "beta1_power", "beta2_power", "global_step"]
    widths = [3, 64, 64, 64, 64, 64, 64, 64, 3]
    for i in range(1, 9):
        for slot in ("", "/Adam", "/Adam_1"):
            assert state[f"MODEL/conv{i}/kernel{slot}"].shape == (3, 3, widths[i - 1], widths[i])  # HWIO
            assert state[f"MODEL/conv{i}/bias{slot}"].shape == (widths[i],)
    assert all(state[name].dtype == torch.float32 for name in _MZSR_VARIABLES)
    assert state["global_step"].dtype == torch.int32 and state["global_step"].item() == 500_000
    assert state["beta1_power"].shape == state["beta2_power"].shape == ()
    # Adam's second moments are non-negative; a mis-read layout would not keep that.
    assert all((state[f"MODEL/conv{i}/kernel/Adam_1"] >= 0).all() for i in range(1, 9))
    assert sum(state[f"MODEL/conv{i}/{kind}"].numel() for i in range(1, 9) for kind in ("kernel", "bias")) == 225_091


@needs_mzsr_checkpoint
def test_writer_reproduces_tensorflows_files_byte_for_byte(tmp_path: Path) -> None:
    index = write_tf1_checkpoint(tmp_path / "Pretrained", read_tf1_checkpoint(MZSR_CHECKPOINT / "Pretrained.index"))
    assert index.read_bytes() == (MZSR_CHECKPOINT / "Pretrained.index").read_bytes()
    data = "Pretrained.data-00000-of-00001"
    assert (tmp_path / data).read_bytes() == (MZSR_CHECKPOINT / data).read_bytes()
