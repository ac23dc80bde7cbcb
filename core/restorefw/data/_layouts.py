"""Test-set layouts of same-size restoration: paired folders and ground truth alone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from restorefw._errors import DataError
from restorefw.data._folders import list_images
from restorefw.data._io import IMAGE_EXTENSIONS
from restorefw.data._layout_base import (
    Layout,
    LayoutOptions,
    build_testset,
    given_folders,
    holds_images,
    keyed,
    parse_options,
    require_folder,
    strip_affix,
    subfolders,
)
from restorefw.data._testsets import TestSet


@dataclass(frozen=True)
class FolderPair:
    """Names of the input and ground-truth folders of a paired test set.

    Attributes:
        lq: the inputs' folder.
        gt: the ground truth's folder; ``"."`` for the test-set folder itself.
        lq_prefix: a prefix of input names that matching ignores.
        gt_prefix: a prefix of ground-truth names that matching ignores.
    """

    lq: str
    gt: str
    lq_prefix: str = ""
    gt_prefix: str = ""


FOLDER_PAIRS: tuple[FolderPair, ...] = (
    FolderPair("lq", "gt"),  # BasicSR's dataroot_lq / dataroot_gt, restorefw's paired_folder
    FolderPair("input", "target"),  # Restormer, MPRNet, NAFNet: Rain100L/H, Test100/1200/2800, GoPro, HIDE
    FolderPair("inputC", "target"),  # Restormer's DPDD single-image defocus set
    FolderPair("rainy", ".", "rain-", "norain-"),  # Rain100L/H as IPT and PReNet read them
    FolderPair("rain", "norain", "rain-", "norain-"),
    FolderPair("noisy", "gt"),
    FolderPair("noisy", "clean"),
    FolderPair("blur", "sharp"),  # GoPro_Large sequences
    FolderPair("low", "high"),  # LOL
    FolderPair("LR", "HR"),
)
"""Folder pairs the ``paired`` layout detects, in the order it tries them (names in any case)."""


class PairedOptions(LayoutOptions):
    """Options of the ``paired`` layout.

    Attributes:
        lq_dir: the inputs' folder, relative to the test set; with ``gt_dir``,
            it replaces detection.
        gt_dir: the ground truth's folder (``"."`` for the test-set folder).
    """

    lq_dir: str | None = None
    gt_dir: str | None = None


class PairedLayout(Layout):
    """Inputs and ground truth in two folders, matched by name (extension aside).

    Sizes are equal, or the ground truth is ``scale`` times the input after
    BasicSR's ``mod_crop``; without a scale, the first pair's ratio is used.
    """

    name: ClassVar[str] = "paired"
    looks_for: ClassVar[str] = "paired (" + ", ".join(
        f"{p.lq}/ + {'images beside it' if p.gt == '.' else p.gt + '/'}" for p in FOLDER_PAIRS
    ) + ")"
    options: ClassVar[type[LayoutOptions]] = PairedOptions
    order: ClassVar[int] = 300

    def detect(self, root: Path) -> bool:
        return self._found(root) is not None

    def load(self, root: Path, *, scale: int | None = None, **options: Any) -> TestSet:
        root = require_folder(root)
        opts = parse_options(PairedOptions, self.name, options)
        given = given_folders(root, opts, "lq_dir", "gt_dir")
        if given is not None:
            pair, lq_dir, gt_dir = FolderPair(*given), root / given[0], root / given[1]
        else:
            found = self._found(root)
            if found is None:
                raise DataError(
                    f"test set '{root}' has no input and ground-truth folders; looked for {self.looks_for}; "
                    "pass lq_dir and gt_dir"
                )
            pair, lq_dir, gt_dir = found
        lq = _listed(lq_dir, root, pair.lq_prefix)
        gt = _listed(gt_dir, root, pair.gt_prefix)
        prefixes = " and ".join(f"a leading '{p}'" for p in (pair.lq_prefix, pair.gt_prefix) if p)
        rule = f"extension and {prefixes} aside" if prefixes else "extension aside"
        return build_testset(root=root, layout=self.name, options=opts, scale=scale, gt_dir=gt_dir, gt=gt,
                             lq_dir=lq_dir, lq=lq, rule=rule)

    @staticmethod
    def _found(root: Path) -> tuple[FolderPair, Path, Path] | None:
        """The first known pair of folders in ``root``, with their paths."""
        folders = subfolders(root)
        for pair in FOLDER_PAIRS:
            lq = folders.get(pair.lq.lower())
            gt = root if pair.gt == "." and holds_images(root) else folders.get(pair.gt.lower())
            if lq is not None and gt is not None:
                return pair, lq, gt
        return None


class GTOnlyOptions(LayoutOptions):
    """Options of the ``gt_only`` layout.

    Attributes:
        recursive: include images in subfolders (Restormer's test scripts do not).
    """

    recursive: bool = False


class GTOnlyLayout(Layout):
    """A folder of clean images; the task makes the inputs (with the protocol's seed)."""

    name: ClassVar[str] = "gt_only"
    looks_for: ClassVar[str] = "gt_only (image files in the folder itself)"
    options: ClassVar[type[LayoutOptions]] = GTOnlyOptions
    order: ClassVar[int] = 900

    def detect(self, root: Path) -> bool:
        return holds_images(root)

    def load(self, root: Path, *, scale: int | None = None, **options: Any) -> TestSet:
        root = require_folder(root)
        opts = parse_options(GTOnlyOptions, self.name, options)
        gt = list_images(root, opts.recursive, IMAGE_EXTENSIONS)
        return build_testset(root=root, layout=self.name, options=opts, scale=scale, gt_dir=root, gt=gt)


def _listed(folder: Path, root: Path, prefix: str) -> dict[str, Path]:
    """The images of a folder of a pair, by name without ``prefix``; only the top level of ``root``."""
    files = list_images(folder, folder != root, IMAGE_EXTENSIONS)
    return keyed(files, strip_affix(f"({re.escape(prefix)}).*"), folder) if prefix else files
