"""The files of a catalogued checkpoint: where they are, and whether they are the published ones.

A checkpoint is one file (a ``.pth``) or several (a TensorFlow 1 bundle: ``P.index`` and
``P.data-00000-of-00001``). Its SHA-256 check covers each file on its own: the catalog holds one
hash per published file, so a damaged shard is named by itself.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

from restorefw._catalog import WeightsEntry
from restorefw._errors import CheckpointError

__all__ = ["FileCheck", "checkpoint_files", "sha256_file", "verify_checkpoint"]

_CHUNK = 1 << 20


class FileCheck(NamedTuple):
    """One file of a checkpoint, hashed.

    Attributes:
        name: the file's published name.
        path: where it is here.
        expected: its published SHA-256, or None where the catalog does not know it.
        actual: the SHA-256 of the file here.
    """

    name: str
    path: Path
    expected: str | None
    actual: str

    @property
    def ok(self) -> bool | None:
        """True or False when the catalog knows the hash, None when there is nothing to compare."""
        return None if self.expected is None else self.expected == self.actual

    def mismatch(self, weights: str) -> str:
        """The one-line error for a file that is not the published one, of catalog entry ``weights``."""
        return (f"{self.path}: SHA-256 differs from the published {self.name} of '{weights}': "
                f"expected {self.expected}, got {self.actual}")


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file, in lower-case hex, read in 1 MiB chunks.

    Raises:
        CheckpointError: the file cannot be read; the message names it.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def checkpoint_files(entry: WeightsEntry, path: str | Path) -> dict[str, Path]:
    """Where each file of ``entry`` is, given the path a user passes for it.

    A folder holds the files under their published names. A single-file checkpoint may have been
    renamed: the path is the file. For several files, the path is one of them or their common
    prefix, and the others keep the published endings (``x.index`` finds ``x.data-00000-of-00001``,
    as TensorFlow finds the shards of a renamed bundle).

    Returns:
        Published name → path, in the entry's order.

    Raises:
        CheckpointError: a file is missing; the message says where the authors publish it.
    """
    path = Path(path)
    if path.is_dir():
        found = {name: path / name for name in entry.files}
    elif len(entry.files) == 1:
        found = {entry.files[0]: path}
    else:
        common = os.path.commonprefix(list(entry.files))
        stem = common[: common.rfind(".")] if "." in common else ""
        endings = [name[len(stem):] for name in entry.files]
        prefix = next((path.name[: -len(end)] for end in endings if path.name.endswith(end)), path.name)
        found = {name: path.with_name(prefix + end) for name, end in zip(entry.files, endings)}
    if missing := [p for p in found.values() if not p.is_file()]:
        raise CheckpointError(f"{missing[0]}: not found; '{entry.name}' is {' and '.join(entry.files)}, published "
                              f"by its authors at {entry.source} (licence: {entry.license}); restorefw downloads "
                              "nothing")
    return found


def verify_checkpoint(entry: WeightsEntry, path: str | Path) -> list[FileCheck]:
    """Hash every file of ``entry`` found at ``path`` (see :func:`checkpoint_files`).

    Returns:
        One :class:`FileCheck` per file; compare with :attr:`FileCheck.ok`.

    Raises:
        CheckpointError: a file is missing; the message says where the authors publish it.
    """
    return [FileCheck(name, p, entry.sha256.get(name), sha256_file(p))
            for name, p in checkpoint_files(entry, path).items()]

