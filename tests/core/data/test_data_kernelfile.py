"""Tests for reading blur kernels from .mat and .npy files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from restorefw._errors import DataError
from restorefw.data import read_kernel


def test_read_kernel(tmp_path: Path) -> None:
    from scipy.io import savemat

    raw = np.arange(1.0, 10.0).reshape(3, 3)
    savemat(tmp_path / "k.mat", {"kernel": raw, "sf": 2})
    np.save(tmp_path / "k.npy", raw)
    for name in ("k.mat", "k.npy"):
        kernel = read_kernel(tmp_path / name, dtype=torch.float64)
        assert kernel.dtype == torch.float64 and torch.allclose(kernel, torch.from_numpy(raw / raw.sum()))
    (tmp_path / "broken.mat").write_bytes(b"MATLAB 5.0 MAT-file, but nothing else")
    np.save(tmp_path / "neg.npy", -raw)
    for name, reason in [("broken.mat", ""), ("neg.npy", "negative entries"), ("missing.mat", "no such file"),
                         ("k.txt", "unsupported kernel format '.txt'")]:
        with pytest.raises(DataError, match=rf"cannot read kernel '.*{name}': .*{reason}"):
            read_kernel(tmp_path / name)
