"""Reading blur kernels from ``.npy`` and MATLAB ``.mat`` files.

Zero-shot SR test sets ship the kernel that made their inputs as a MATLAB file
(MZSR's ``Input/<kernel>/kernel.mat``), and kernel sampler plugins accept user
kernels in either format, so the reader lives here in the data floor.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from restorefw._errors import DataError

KERNEL_EXTENSIONS: tuple[str, ...] = (".mat", ".npy")



def read_kernel(path: str | os.PathLike[str], *, dtype: torch.dtype = torch.float32) -> Tensor:
    """Reads a 2-D blur kernel and normalises it to sum 1.

    A ``.mat`` file holds it in a variable named ``kernel`` or ``Kernel`` (as
    MZSR's files do), or else as its only 2-D numeric array with more than one
    element (MATLAB saves scalars such as a scale factor as 1x1 arrays).

    Args:
        path: a ``.npy`` or ``.mat`` file.
        dtype: dtype of the result.

    Returns:
        The ``(kh, kw)`` kernel on the CPU.

    Raises:
        DataError: the file is missing or unreadable, has another extension,
            holds no single recognisable kernel, or a kernel that is not 2-D,
            not finite, has a negative entry or sums to zero; the message names
            the file.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in KERNEL_EXTENSIONS:
        raise _cannot_read(file, f"unsupported kernel format {suffix!r}, expected .npy or .mat")
    if not file.is_file():
        raise _cannot_read(file, "no such file")
    try:
        array = np.load(file, allow_pickle=False) if suffix == ".npy" else _mat_kernel(file)
    # Damaged files make numpy and scipy raise about anything (IndexError and
    # MatReadError for a cut MATLAB header, NotImplementedError for v7.3 files).
    except Exception as error:
        raise _cannot_read(file, str(error) or type(error).__name__) from error
    if array.ndim != 2 or not _is_real(array):
        raise _cannot_read(file, f"a kernel must be a 2-D real array, got {array.dtype} of shape {array.shape}")
    kernel = torch.from_numpy(array.astype(np.float64))
    if not torch.isfinite(kernel).all():
        raise _cannot_read(file, "the kernel contains NaN or infinite values")
    if (kernel < 0).any():
        raise _cannot_read(file, f"the kernel has negative entries (min {kernel.min().item():g})")
    if kernel.sum() <= 0:
        raise _cannot_read(file, "the kernel sums to zero")
    return (kernel / kernel.sum()).to(dtype)


def _mat_kernel(path: Path) -> np.ndarray:
    """The kernel array of a MATLAB file: variable ``kernel``/``Kernel``, else the only 2-D array."""
    from scipy.io import loadmat  # scipy is slow to import and only .mat files need it

    contents = {k: v for k, v in loadmat(str(path)).items() if not k.startswith("__")}
    for key in ("kernel", "Kernel"):
        if key in contents:
            return np.asarray(contents[key])
    candidates = [
        key for key, value in contents.items()
        if isinstance(value, np.ndarray) and value.ndim == 2 and _is_real(value) and value.size > 1
    ]
    if len(candidates) != 1:
        raise ValueError(
            f"expected a variable named 'kernel' or exactly one 2-D numeric array, "
            f"found variables {sorted(contents)}"
        )
    return np.asarray(contents[candidates[0]])


def _is_real(array: np.ndarray) -> bool:
    return bool(np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating))


def _cannot_read(path: Path, reason: str) -> DataError:
    return DataError(f"cannot read kernel '{path}': {reason}")
