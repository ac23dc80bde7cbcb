"""Datasets of clean images and of (low-quality, ground-truth) pairs.

They follow the map-style ``torch.utils.data.Dataset`` protocol (``__len__`` and
``__getitem__``) and add ``names`` (one per image, used to name files written
for it), ``paired`` and ``scale``. Folder datasets read images lazily and, by
default, keep them in memory once read; treat the tensors they return as
read-only, since they may be the cached ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

from restorefw._errors import DataError
from restorefw.data._folders import LazyImages, check_counterparts, decode_all, hw, list_images, listing
from restorefw.data._io import IMAGE_EXTENSIONS
from restorefw.data._samples import load_sample


class ImageList:
    """Clean images held in memory; the base of the other clean-image datasets.

    Args:
        images: (C, H, W) float32 tensors in [0, 1].
        names: one unique name per image.

    Raises:
        DataError: no images, a name count that differs from the image count,
            or duplicate names.
    """

    paired: bool = False
    scale: int = 1

    def __init__(self, images: Sequence[Tensor], names: Sequence[str]) -> None:
        if len(images) != len(names):
            raise DataError(
                f"got {len(images)} images but {len(names)} names; expected one name per image"
            )
        if not names:
            raise DataError("expected at least one image, got none")
        duplicates = [name for name, count in Counter(names).items() if count > 1]
        if duplicates:
            raise DataError(f"expected unique image names, got duplicates: {listing(duplicates)}")
        self.names: list[str] = list(names)
        self._images = images

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> Tensor:
        return self._images[index]

    def image_size(self, index: int) -> tuple[int, int]:
        """``(height, width)`` of image ``index``."""
        height, width = self._images[index].shape[-2:]
        return int(height), int(width)

    def source(self, index: int) -> str:
        """How error messages refer to image ``index``: its file, or else its name."""
        return self.names[index]


class SkimageSamples(ImageList):
    """Sample images bundled with scikit-image, loaded up front.

    Args:
        images: names from ``SKIMAGE_SAMPLES``; ``None`` for ``DEFAULT_NAMES``.
    """

    DEFAULT_NAMES: tuple[str, ...] = ("astronaut", "camera", "chelsea", "coffee", "rocket")

    def __init__(self, images: Sequence[str] | None = None) -> None:
        names = list(self.DEFAULT_NAMES if images is None else images)
        super().__init__([load_sample(name) for name in names], names)


class ImageFolder(ImageList):
    """Clean images read from a folder, named by their path relative to it without extension.

    File headers are read up front, so files that are not images fail at once;
    a file that is cut short fails when it is first read. With ``skip_bad``,
    every file is decoded up front instead and unreadable ones are skipped with
    a warning.

    Args:
        root: the folder.
        recursive: include subfolders. Hidden files and folders are ignored.
        extensions: file name endings that count as images (any case).
        skip_bad: skip unreadable files instead of failing.
        channels: 3 for RGB, 1 for grey.
        cache: keep images in memory once read.

    Attributes:
        files: the image files, sorted.
        skipped_files: files skipped by ``skip_bad``.

    Raises:
        DataError: the folder is missing or holds no images, two files share
            a name, or (without ``skip_bad``) a file is not an image.
    """

    def __init__(
        self,
        root: str | Path,
        recursive: bool = True,
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
        skip_bad: bool = False,
        channels: int = 3,
        cache: bool = True,
    ) -> None:
        self.root = Path(root)
        found = list_images(self.root, recursive, extensions)
        decoded: dict[Path, Tensor] = {}
        self.skipped_files: list[Path] = []
        if skip_bad:
            decoded, self.skipped_files = decode_all(found.values(), channels, self.root, cache)
            bad = set(self.skipped_files)
            found = {n: path for n, path in found.items() if path not in bad}
            if not found:
                raise DataError(f"image folder '{self.root}' holds no readable images")
        self._files = LazyImages(list(found.values()), channels, cache, decoded)
        self.files = self._files.paths
        super().__init__(self._files, list(found))

    def image_size(self, index: int) -> tuple[int, int]:
        """``(height, width)`` of image ``index``, without reading its pixels."""
        return self._files.sizes[index]

    def source(self, index: int) -> str:
        """The file of image ``index``, for error messages."""
        return str(self.files[index])


class PairedFolder:
    """Pairs of low-quality and ground-truth images from two subfolders, matched by name.

    A pair is two files with the same path relative to their subfolder, the
    extension aside (``lq/a.jpg`` and ``gt/a.png``). Reading, caching and
    ``skip_bad`` work as in :class:`ImageFolder`; a pair with an unreadable file
    is skipped whole.

    Args:
        root: the folder holding both subfolders.
        lq: subfolder of low-quality images.
        gt: subfolder of ground-truth images, ``scale`` times the lq size.
        scale: super-resolution factor; 1 for same-size pairs.
        recursive: include nested subfolders.
        extensions: file name endings that count as images (any case).
        skip_bad: skip pairs with an unreadable file instead of failing.
        channels: 3 for RGB, 1 for grey.
        cache: keep images in memory once read.

    Attributes:
        lq_files: the lq file of each pair, in order of ``names``.
        gt_files: the gt file of each pair.
        skipped_files: files skipped by ``skip_bad``.

    Raises:
        DataError: a missing or empty subfolder, files without a counterpart,
            a pair whose sizes do not match ``scale``, or an unreadable file.
    """

    paired: bool = True

    def __init__(
        self,
        root: str | Path,
        lq: str = "lq",
        gt: str = "gt",
        scale: int = 1,
        recursive: bool = True,
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
        skip_bad: bool = False,
        channels: int = 3,
        cache: bool = True,
    ) -> None:
        self.root = Path(root)
        if scale < 1:
            raise DataError(
                f"paired folder '{self.root}': scale must be a positive integer, got {scale}"
            )
        self.scale = scale
        lq_found = list_images(self.root / lq, recursive, extensions)
        gt_found = list_images(self.root / gt, recursive, extensions)
        check_counterparts(self.root / lq, lq_found, self.root / gt, gt_found)
        names = list(gt_found)
        decoded: dict[Path, Tensor] = {}
        self.skipped_files: list[Path] = []
        if skip_bad:
            both = [*lq_found.values(), *gt_found.values()]
            decoded, self.skipped_files = decode_all(both, channels, self.root, cache)
            bad = set(self.skipped_files)
            names = [n for n in names if lq_found[n] not in bad and gt_found[n] not in bad]
            if not names:
                raise DataError(f"paired folder '{self.root}' holds no readable pairs")
        self.names: list[str] = names
        self._lq = LazyImages([lq_found[n] for n in names], channels, cache, decoded)
        self._gt = LazyImages([gt_found[n] for n in names], channels, cache, decoded)
        self.lq_files, self.gt_files = self._lq.paths, self._gt.paths
        for lq_path, gt_path, lq_size, gt_size in zip(
            self.lq_files, self.gt_files, self._lq.sizes, self._gt.sizes, strict=True
        ):
            expected = (lq_size[0] * scale, lq_size[1] * scale)
            if gt_size != expected:
                raise DataError(
                    f"'{gt_path}' is {hw(gt_size)} but '{lq_path}' is {hw(lq_size)} "
                    f"(height x width); expected the gt image to be {scale} times the lq size, "
                    f"{hw(expected)}"
                )

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self._lq[index], self._gt[index]

    def image_size(self, index: int) -> tuple[int, int]:
        """``(height, width)`` of the gt image of pair ``index``, without reading its pixels."""
        return self._gt.sizes[index]

    def source(self, index: int) -> str:
        """The gt file of pair ``index``, for error messages."""
        return str(self.gt_files[index])


def check_min_size(
    dataset: ImageList | PairedFolder, patch_size: int, scale: int | None = None
) -> None:
    """Checks that every (gt) image can hold a training patch.

    Args:
        dataset: the training images.
        patch_size: side of the (gt) patch; the lq patch of a paired dataset is
            ``patch_size // scale``.
        scale: the super-resolution factor; defaults to ``dataset.scale``. The
            patch must be a multiple of it so that lq patches are whole.

    Raises:
        DataError: naming the first image smaller than the patch, or for a
            patch size that is not a positive multiple of the scale.
    """
    scale = dataset.scale if scale is None else scale
    if dataset.paired and scale != dataset.scale:
        raise DataError(f"scale {scale} differs from the paired dataset's scale {dataset.scale}")
    if patch_size < 1 or patch_size % scale:
        raise DataError(f"patch size {patch_size} is not a positive multiple of the scale {scale}")
    for index in range(len(dataset)):
        size = dataset.image_size(index)
        if min(size) < patch_size:
            lq_note = f" (lq patch {patch_size // scale})" if dataset.paired else ""
            raise DataError(
                f"image '{dataset.source(index)}' is {hw(size)} (height x width), smaller than the "
                f"training patch {patch_size}{lq_note}; expected every image to be at least "
                f"{patch_size} pixels on each side"
            )
