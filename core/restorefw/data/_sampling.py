"""Deterministic sampling of training batches, and cropping of evaluation images.

Every random choice draws from a ``torch.Generator`` the caller passes, in a
fixed order, so a batch depends on nothing but that generator's state. Seeding
a fresh generator from (seed, step) for every step makes batch k a function of
(seed, k) alone, so a resumed run sees exactly the batches it would have.
"""

from __future__ import annotations

import math
from typing import overload

import torch
from torch import Tensor

from restorefw._errors import DataError
from restorefw.data._datasets import ImageList, PairedFolder


def random_crop(img: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """A random ``size`` x ``size`` crop of a (..., H, W) image, as a view.

    Draws the top row, then the left column.

    Raises:
        DataError: the image is smaller than the crop.
    """
    top, left = _random_corner(img, size, generator, "the image")
    return img[..., top : top + size, left : left + size]


def augment(img: Tensor, generator: torch.Generator) -> Tensor:
    """One of the 8 flips and quarter turns of a (..., H, W) image, drawn uniformly."""
    return _dihedral(img, _draw(8, generator))


@overload
def sample_batch(
    dataset: ImageList,
    batch_size: int,
    patch_size: int,
    generator: torch.Generator,
    augment: bool = True,
) -> Tensor: ...


@overload
def sample_batch(
    dataset: PairedFolder,
    batch_size: int,
    patch_size: int,
    generator: torch.Generator,
    augment: bool = True,
) -> tuple[Tensor, Tensor]: ...


def sample_batch(
    dataset: ImageList | PairedFolder,
    batch_size: int,
    patch_size: int,
    generator: torch.Generator,
    augment: bool = True,
) -> Tensor | tuple[Tensor, Tensor]:
    """A batch of random patches, from images drawn uniformly with replacement.

    For each sample, draws in this order: the image, the patch's top row and
    left column, and (with ``augment``) one of the 8 flips and quarter turns.
    The lq patch of a pair is ``patch_size // scale`` wide; its gt patch covers
    exactly the same area and gets the same flip and turn.

    Args:
        dataset: the training images.
        batch_size: patches in the batch.
        patch_size: side of the (gt) patches.
        generator: the source of every random choice.
        augment: apply random flips and quarter turns.

    Returns:
        A (B, C, P, P) tensor, or for a paired dataset the pair
        ``(lq, gt)`` of (B, C, P // scale, P // scale) and (B, C, P, P) tensors.

    Raises:
        DataError: a batch size below 1, a patch size that is not a positive
            multiple of the scale, or an image smaller than the patch.
    """
    if batch_size < 1:
        raise DataError(f"expected a batch size of at least 1, got {batch_size}")
    scale = dataset.scale
    if patch_size < 1 or patch_size % scale:
        raise DataError(f"patch size {patch_size} is not a positive multiple of the scale {scale}")
    lq_size = patch_size // scale
    paired = bool(getattr(dataset, "paired", False))
    columns: list[list[Tensor]] = [[], []] if paired else [[]]
    for _ in range(batch_size):
        index = _draw(len(dataset), generator)
        if paired:
            lq, gt = dataset[index]
            top, left = _random_corner(lq, lq_size, generator, f"'{dataset.source(index)}'")
            crops = [
                lq[..., top : top + lq_size, left : left + lq_size],
                gt[..., top * scale : top * scale + patch_size, left * scale : left * scale + patch_size],
            ]
        else:
            image = dataset[index]
            top, left = _random_corner(image, patch_size, generator, f"'{dataset.source(index)}'")
            crops = [image[..., top : top + patch_size, left : left + patch_size]]
        if augment:
            transform = _draw(8, generator)
            crops = [_dihedral(crop, transform) for crop in crops]
        for column, crop in zip(columns, crops, strict=True):
            column.append(crop)
    batches = [torch.stack(column) for column in columns]
    return (batches[0], batches[1]) if len(batches) == 2 else batches[0]


def center_crop(img: Tensor, size: int | tuple[int, int]) -> Tensor:
    """The central ``size`` (side, or ``(height, width)``) crop of a (..., H, W) image, as a view.

    Raises:
        DataError: the crop is empty or larger than the image.
    """
    height, width = (size, size) if isinstance(size, int) else size
    top, left = _centre_corner(img, height, width)
    return img[..., top : top + height, left : left + width]


@overload
def eval_images(
    dataset: ImageList, max_size: int | None = None, multiple: int = 1
) -> list[Tensor]: ...


@overload
def eval_images(
    dataset: PairedFolder, max_size: int | None = None, multiple: int = 1
) -> list[tuple[Tensor, Tensor]]: ...


def eval_images(
    dataset: ImageList | PairedFolder, max_size: int | None = None, multiple: int = 1
) -> list[Tensor] | list[tuple[Tensor, Tensor]]:
    """The evaluation images, centre-cropped to a bounded size that ``multiple`` divides.

    Each side becomes the largest multiple of ``multiple`` that is at most the
    side and at most ``max_size``. For a paired dataset these rules apply to
    the gt image, whose sides are also kept multiples of the scale; the lq
    image is cropped to the same area, so the gt crop may sit up to ``scale - 1``
    pixels off centre.

    Args:
        dataset: the evaluation images, in order.
        max_size: the longest side kept; ``None`` for no limit.
        multiple: what every (gt) side must be a multiple of, such as the
            scale a clean image is later downsampled by.

    Returns:
        One image, or ``(lq, gt)`` pair, per dataset entry; crops are views.

    Raises:
        DataError: ``max_size`` or ``multiple`` below 1, or an image too small
            to hold one ``multiple`` (or one ``max_size``) on each side.
    """
    if multiple < 1 or (max_size is not None and max_size < 1):
        raise DataError(f"expected max_size and multiple of at least 1, got {max_size}, {multiple}")
    if not getattr(dataset, "paired", False):
        return [
            center_crop(dataset[i], _fitted(dataset, i, max_size, multiple))
            for i in range(len(dataset))
        ]
    scale = dataset.scale
    pairs = []
    for index in range(len(dataset)):
        lq, gt = dataset[index]
        height, width = _fitted(dataset, index, max_size, math.lcm(multiple, scale))
        top, left = _centre_corner(lq, height // scale, width // scale)
        lq_crop = lq[..., top : top + height // scale, left : left + width // scale]
        gt_crop = gt[..., top * scale : top * scale + height, left * scale : left * scale + width]
        pairs.append((lq_crop, gt_crop))
    return pairs


def _fitted(
    dataset: ImageList | PairedFolder, index: int, max_size: int | None, multiple: int
) -> tuple[int, int]:
    """Crop size for image ``index``: each side cut to ``max_size``, then to a multiple."""
    size = dataset.image_size(index)
    height, width = (min(side, max_size or side) // multiple * multiple for side in size)
    if not height or not width:
        raise DataError(
            f"image '{dataset.source(index)}' is {size[0]}x{size[1]} (height x width); expected "
            f"each side, cut to at most {max_size}, to hold a multiple of {multiple} pixels"
        )
    return height, width


def _random_corner(
    img: Tensor, size: int, generator: torch.Generator, what: str
) -> tuple[int, int]:
    """Draws the top row, then the left column, of a random ``size`` x ``size`` crop."""
    height, width = img.shape[-2:]
    if size < 1 or size > height or size > width:
        raise DataError(
            f"cannot crop a {size}x{size} patch from {what}, which is {height}x{width} "
            "(height x width); expected an image at least as large as the patch"
        )
    return _draw(height - size + 1, generator), _draw(width - size + 1, generator)


def _centre_corner(img: Tensor, height: int, width: int) -> tuple[int, int]:
    """Top row and left column of the central ``height`` x ``width`` crop."""
    full_height, full_width = img.shape[-2:]
    if not (0 < height <= full_height and 0 < width <= full_width):
        raise DataError(
            f"cannot crop {height}x{width} from an image of {full_height}x{full_width} "
            "(height x width); expected a non-empty crop no larger than the image"
        )
    return (full_height - height) // 2, (full_width - width) // 2


def _draw(n: int, generator: torch.Generator) -> int:
    """A uniform integer in [0, n)."""
    return int(torch.randint(n, (1,), generator=generator))


def _dihedral(img: Tensor, transform: int) -> Tensor:
    """Element ``transform`` (0-7) of the dihedral group on the last two dimensions.

    4 to 7 transpose first; then come ``transform % 4`` quarter turns.
    """
    if transform >= 4:
        img = img.transpose(-2, -1)
    return torch.rot90(img, transform % 4, dims=(-2, -1)).contiguous()
