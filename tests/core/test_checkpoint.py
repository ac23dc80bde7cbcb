"""Checkpoint files: atomic writes, clear errors for broken or untrusted files."""

from __future__ import annotations

import errno
import os
import pickle

import pytest
import torch

from restorefw import CheckpointError
from restorefw.weights import read_metadata, read_state_dict, save_weights


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_round_trip_with_metadata(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(path, {"a": torch.arange(3.0)}, {"model": {"type": "x", "n": 1}})
    assert torch.equal(read_state_dict(path)["a"], torch.arange(3.0))
    assert read_metadata(path)["model"] == {"type": "x", "n": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]


def test_disk_full_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    save_weights(path, {"a": torch.zeros(2)})
    before = path.read_bytes()

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(CheckpointError, match="cannot write .*w.safetensors.*No space left"):
        save_weights(path, {"a": torch.ones(2)})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]


def test_truncated_safetensors_and_pth(tmp_path):
    good = tmp_path / "good.safetensors"
    save_weights(good, {"a": torch.zeros(100)})
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(good.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="bad.safetensors.*cannot read checkpoint"):
        read_state_dict(bad)
    pth = tmp_path / "w.pth"
    torch.save({"params": {"a": torch.zeros(100)}}, pth)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(pth.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="cut.pth"):
        read_state_dict(cut)
    assert torch.equal(read_state_dict(pth)["a"], torch.zeros(100))


def test_pickles_with_code_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as handle:
        pickle.dump({"params": {"a": Evil()}}, handle)
    with pytest.raises(CheckpointError, match="evil.pth"):
        read_state_dict(path)


def test_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="not a state dict"):
        read_state_dict(path)
    with pytest.raises(CheckpointError, match="not found"):
        read_state_dict(tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError, match="unsupported checkpoint suffix"):
        (tmp_path / "w.bin").write_bytes(b"x")
        read_state_dict(tmp_path / "w.bin")
