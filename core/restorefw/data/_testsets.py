"""Test sets for evaluation: named items of ground truth, inputs and kernels, decoded on demand.

A :class:`TestSet` holds file paths only; images are read when iterated, one
item at a time. Layouts (``_layouts.py``, ``_sr_layouts.py``) find the files
and check, from the headers, that they make a test set.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from torch import Tensor

from restorefw.data._io import read_image
from restorefw.data._kernelfile import read_kernel
from restorefw.data._protocol import mod_crop


@dataclass(frozen=True)
class TestItem:
    """One image of a test set: its name and files.

    Attributes:
        name: the name that matched the files (``baby`` for ``babyx2.png`` and ``baby.png``).
        gt: the ground-truth image.
        lq: the degraded input; ``None`` when the task makes it from ``gt``.
        kernel: the blur kernel that made ``lq`` (MZSR), ``.mat`` or ``.npy``.
    """

    __test__ = False  # a data class, not a pytest test class

    name: str
    gt: Path
    lq: Path | None = None
    kernel: Path | None = None


class DecodedItem(NamedTuple):
    """A test item read into (C, H, W) float32 tensors in [0, 1]; the kernel is (kh, kw)."""

    name: str
    lq: Tensor | None
    gt: Tensor
    kernel: Tensor | None


@dataclass(frozen=True)
class TestSet:
    """A loaded test set: files checked, images not read yet.

    Attributes:
        name: how tables name the set (the folder name unless given).
        layout: the layout that found the files.
        root: the test-set folder.
        scale: super-resolution factor; 1 for same-size restoration.
        channels: 3 for RGB, 1 for grey; images are read with this many.
        items: the images, sorted by name.
    """

    __test__ = False

    name: str
    layout: str
    root: Path
    scale: int
    channels: int
    items: tuple[TestItem, ...]

    def __len__(self) -> int:
        return len(self.items)

    @property
    def names(self) -> list[str]:
        """The item names, in order."""
        return [item.name for item in self.items]

    @property
    def paired(self) -> bool:
        """Whether every item has its degraded input (otherwise the task makes it)."""
        return all(item.lq is not None for item in self.items)

    def decoded(self, *, crop_gt: bool = True) -> Iterator[DecodedItem]:
        """Reads the items one at a time, in order.

        Args:
            crop_gt: crop each ground truth to a multiple of the scale
                (:func:`mod_crop`), so that it is exactly ``scale`` times its input.

        Raises:
            DataError: a file that cannot be decoded (such as a truncated one);
                the message names it.
        """
        kernels: dict[Path, Tensor] = {}
        for item in self.items:
            gt = read_image(item.gt, self.channels)
            lq = None if item.lq is None else read_image(item.lq, self.channels)
            kernel = None
            if item.kernel is not None:
                kernel = kernels.get(item.kernel)
                if kernel is None:
                    kernel = kernels[item.kernel] = read_kernel(item.kernel)
            yield DecodedItem(item.name, lq, mod_crop(gt, self.scale) if crop_gt else gt, kernel)
