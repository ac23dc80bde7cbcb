"""Finding, checking and lazily reading the image files of folder datasets."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import overload

from torch import Tensor

from restorefw._errors import DataError
from restorefw.data._io import image_size, read_image

_SHOWN = 3  # items an error or warning lists before "and N more"


class LazyImages(Sequence[Tensor]):
    """Image files read on first access and, if ``cache``, kept in memory.

    Args:
        paths: the files.
        channels: 3 for RGB, 1 for grey.
        cache: keep images in memory once read.
        decoded: images already read, by file; their sizes need no header read
            and, if ``cache``, they are kept.

    Raises:
        DataError: a file other than those in ``decoded`` is not an image (its
            header is read to learn its size).
    """

    def __init__(
        self, paths: list[Path], channels: int, cache: bool, decoded: Mapping[Path, Tensor]
    ) -> None:
        self.paths = paths
        self._channels = channels
        self.sizes = [size_of(decoded[p]) if p in decoded else image_size(p) for p in paths]
        self._cache: dict[int, Tensor] | None = None
        if cache:
            self._cache = {i: decoded[p] for i, p in enumerate(paths) if p in decoded}

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, index: int) -> Tensor: ...

    @overload
    def __getitem__(self, index: slice) -> list[Tensor]: ...

    def __getitem__(self, index: int | slice) -> Tensor | list[Tensor]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        index = range(len(self))[index]
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        image = read_image(self.paths[index], self._channels)
        if self._cache is not None:
            self._cache[index] = image
        return image


def list_images(folder: Path, recursive: bool, extensions: Sequence[str]) -> dict[str, Path]:
    """Image files in ``folder`` keyed by relative path without extension, in sorted order.

    Raises:
        DataError: the folder is missing or holds no images, or two files
            share a name.
    """
    if not folder.exists():
        raise DataError(f"image folder '{folder}' does not exist")
    if not folder.is_dir():
        raise DataError(f"'{folder}' is not a folder; expected a folder of images")
    suffixes = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    found: dict[str, Path] = {}
    candidates = folder.glob("**/*" if recursive else "*")
    for path in sorted(candidates, key=lambda p: p.relative_to(folder).as_posix()):
        relative = path.relative_to(folder)
        # Hidden files are system leftovers: macOS "._x.png" files are not images.
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() not in suffixes or not path.is_file():
            continue
        name = relative.with_suffix("").as_posix()
        if name in found:
            raise DataError(
                f"'{found[name]}' and '{path}' have the same name; expected one image per name"
            )
        found[name] = path
    if not found:
        endings = ", ".join(sorted(suffixes))
        raise DataError(
            f"image folder '{folder}' holds no images; expected files ending in {endings}"
        )
    return found


def check_counterparts(
    lq_dir: Path, lq: Mapping[str, Path], gt_dir: Path, gt: Mapping[str, Path], rule: str = "extension aside"
) -> None:
    """Checks that every lq file has a gt file of the same name, and the other way round.

    ``rule`` says how names were matched, for the message.

    Raises:
        DataError: listing, for each side, how many files lack a counterpart
            and the first few of them.
    """
    problems = []
    for here, files, there, others in ((lq_dir, lq, gt_dir, gt), (gt_dir, gt, lq_dir, lq)):
        lonely = [str(path.relative_to(here)) for name, path in files.items() if name not in others]
        if lonely:
            problems.append(
                f"{len(lonely)} image(s) in '{here}' have no counterpart in '{there}': "
                f"{listing(lonely)}"
            )
    if problems:
        raise DataError(
            "; ".join(problems) + f"; expected lq and gt files matched by name, {rule}"
        )


def decode_all(
    paths: Iterable[Path], channels: int, root: Path, keep: bool
) -> tuple[dict[Path, Tensor], list[Path]]:
    """Reads every file, warning about those that cannot be read.

    Args:
        paths: the files.
        channels: 3 for RGB, 1 for grey.
        root: the dataset folder, which the warning names files relative to.
        keep: return the images read; without it, only one image is held in
            memory at a time.

    Returns:
        The images read, by file (empty unless ``keep``), and the files that
        could not be read.
    """
    decoded: dict[Path, Tensor] = {}
    bad: list[Path] = []
    first_error = ""
    for path in paths:
        try:
            image = read_image(path, channels)
        except DataError as error:
            bad.append(path)
            first_error = first_error or str(error)
            continue
        if keep:
            decoded[path] = image
    if bad:
        names = [str(path.relative_to(root)) for path in bad]
        # stacklevel 3 points at the code that built the dataset.
        warnings.warn(
            f"skipped {len(bad)} unreadable image file(s) in '{root}': {listing(names)} "
            f"(first error: {first_error})",
            stacklevel=3,
        )
    return decoded, bad


def size_of(image: Tensor) -> tuple[int, int]:
    """``(height, width)`` of a (..., H, W) tensor."""
    return int(image.shape[-2]), int(image.shape[-1])


def hw(size: tuple[int, int]) -> str:
    """A size as ``HxW`` text."""
    return f"{size[0]}x{size[1]}"


def listing(items: Sequence[object]) -> str:
    """The first few items, quoted, and how many more there are."""
    shown = ", ".join(f"'{item}'" for item in items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")

