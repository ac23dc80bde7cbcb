"""Test-set layouts of super-resolution: benchmark packs and MZSR's kernel-specific sets."""

from __future__ import annotations

import re
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
    keyed,
    parse_options,
    require_folder,
    strip_affix,
    subfolders,
)
from restorefw.data._testsets import TestSet

_GT_MOD = re.compile(r"gtmod\d+")
_LR_BIC = re.compile(r"lrbicx(\d+)")
_X_SCALE = re.compile(r"x(\d+)")
_TRAILING_NUMBER = re.compile(r".*?(\d+)")


class SRPackOptions(LayoutOptions):
    """Options of the ``sr_pack`` layout.

    Attributes:
        hr_dir: the ground truth's folder, relative to the test set; with
            ``lr_dir``, it replaces detection.
        lr_dir: the inputs' folder for the scale evaluated (``LR_bicubic/X4``).
    """

    hr_dir: str | None = None
    lr_dir: str | None = None


class SRPackLayout(Layout):
    """SR benchmark packs: ground truth and bicubic inputs per scale, matched by name.

    Three ways of laying them out are found: EDSR's ``HR/`` + ``LR_bicubic/X<s>/``
    (inputs named ``babyx2.png``; the benchmark pack IPT reads), DIV2K's
    ``<name>_HR/`` + ``<name>_LR_bicubic/X<s>/``, and BasicSR's ``GTmod12/`` +
    ``LRbicx<s>/`` (inputs named as the ground truth). An input's name matches
    as it is or without a scale suffix (``x2``, ``_x2``, ``-X2``).
    """

    name: ClassVar[str] = "sr_pack"
    looks_for: ClassVar[str] = (
        "sr_pack (HR/ + LR_bicubic/X<s>/, <name>_HR/ + <name>_LR_bicubic/X<s>/, GTmod<n>/ + LRbicx<s>/)"
    )
    options: ClassVar[type[LayoutOptions]] = SRPackOptions
    order: ClassVar[int] = 200

    def detect(self, root: Path) -> bool:
        return any(scales for _, scales in _packs(root))

    def load(self, root: Path, *, scale: int | None = None, **options: Any) -> TestSet:
        root = require_folder(root)
        opts = parse_options(SRPackOptions, self.name, options)
        given = given_folders(root, opts, "hr_dir", "lr_dir")
        if given is not None:
            hr_dir, lr_dir = root / given[0], root / given[1]
            if scale is None:
                number = _TRAILING_NUMBER.fullmatch(lr_dir.name)
                if number is None:
                    raise DataError(f"test set '{root}': cannot tell the scale from '{opts.lr_dir}'; pass a scale")
                scale = int(number[1])
        else:
            hr_dir, lr_dir, scale = _chosen(root, scale, self.looks_for)
        hr = list_images(hr_dir, False, IMAGE_EXTENSIONS)
        strip = strip_affix(rf".*?([_-]?[xX]{scale})")
        lr = keyed(list_images(lr_dir, False, IMAGE_EXTENSIONS), lambda n: n if n in hr else strip(n), lr_dir)
        return build_testset(root=root, layout=self.name, options=opts, scale=scale, gt_dir=hr_dir, gt=hr,
                             lq_dir=lr_dir, lq=lr, rule=f"extension and a suffix 'x{scale}' aside")


def _packs(root: Path) -> list[tuple[Path, dict[int, Path]]]:
    """Each ground-truth folder of ``root`` with its input folders by scale."""
    folders = subfolders(root)
    packs = []
    for lower, hr_dir in folders.items():
        if lower == "hr" or lower.endswith("_hr"):
            lr_root = folders.get(f"{lower[:-2]}lr_bicubic")
            lr_dirs = subfolders(lr_root) if lr_root is not None else {}
            scales = {int(m[1]): p for k, p in lr_dirs.items() if (m := _X_SCALE.fullmatch(k))}
        elif _GT_MOD.fullmatch(lower):
            scales = {int(m[1]): p for k, p in folders.items() if (m := _LR_BIC.fullmatch(k))}
        else:
            continue
        packs.append((hr_dir, dict(sorted(scales.items()))))
    return packs


def _chosen(root: Path, scale: int | None, looks_for: str) -> tuple[Path, Path, int]:
    """The one pack in ``root`` and its input folder for ``scale`` (the only one when ``None``)."""
    packs = [(hr, scales) for hr, scales in _packs(root) if scales]
    if not packs:
        raise DataError(f"test set '{root}' holds no SR pack; looked for {looks_for}; pass hr_dir and lr_dir")
    if len(packs) > 1:
        names = ", ".join(f"'{hr.name}'" for hr, _ in packs)
        raise DataError(f"test set '{root}' holds several SR packs ({names}); pass hr_dir and lr_dir")
    hr_dir, scales = packs[0]
    found = ", ".join(f"x{s}" for s in scales)
    if scale is None:
        if len(scales) > 1:
            raise DataError(f"test set '{root}' holds inputs for scales {found}; pass the scale to evaluate")
        scale = next(iter(scales))
    if scale not in scales:
        raise DataError(f"test set '{root}' has no inputs for scale x{scale}; it holds {found}")
    return hr_dir, scales[scale], scale


class MZSROptions(LayoutOptions):
    """Options of the ``mzsr`` layout.

    Attributes:
        kernel: the kernel's folder under ``Input/`` (``g20``); needed when there are several.
        set_name: the set's folder under ``Input/<kernel>/`` and ``GT/`` (``Set5``);
            needed when there are several.
    """

    kernel: str | None = None
    set_name: str | None = None


class MZSRLayout(Layout):
    """MZSR's meta-test layout: ``Input/<kernel>/<set>/*.png``, ``GT/<set>/*_GT.png``.

    The kernel that made the inputs is ``Input/<kernel>/kernel.mat``; without
    it, the authors' ``main.py`` falls back to bicubic, and items have no
    kernel. Ground-truth names match without their ``_GT`` suffix. The scale
    is 2 unless given, as in ``main.py``.
    """

    name: ClassVar[str] = "mzsr"
    looks_for: ClassVar[str] = "mzsr (Input/<kernel>/<set>/ + GT/<set>/)"
    options: ClassVar[type[LayoutOptions]] = MZSROptions
    order: ClassVar[int] = 100

    def detect(self, root: Path) -> bool:
        folders = subfolders(root)
        inputs, gt = folders.get("input"), folders.get("gt")
        return inputs is not None and gt is not None and any(subfolders(k) for k in subfolders(inputs).values())

    def load(self, root: Path, *, scale: int | None = None, **options: Any) -> TestSet:
        root = require_folder(root)
        opts = parse_options(MZSROptions, self.name, options)
        folders = subfolders(root)
        if "input" not in folders or "gt" not in folders:
            raise DataError(f"test set '{root}' is not in MZSR's layout; looked for {self.looks_for}")
        kernels = {k: p for k, p in subfolders(folders["input"]).items() if subfolders(p)}
        kernel_dir = _pick(kernels, opts.kernel, "kernel", folders["input"])
        set_dir = _pick(subfolders(kernel_dir), opts.set_name, "set_name", kernel_dir)
        gt_dir = folders["gt"] / set_dir.name
        if not gt_dir.is_dir():
            raise DataError(f"test set '{root}': no ground-truth folder '{gt_dir}' for the inputs in '{set_dir}'")
        gt = keyed(list_images(gt_dir, False, IMAGE_EXTENSIONS), strip_affix(r".*?(_GT)"), gt_dir)
        lq = list_images(set_dir, False, IMAGE_EXTENSIONS)
        kernel = kernel_dir / "kernel.mat"
        return build_testset(root=root, layout=self.name, options=opts, scale=2 if scale is None else scale,
                             gt_dir=gt_dir, gt=gt, lq_dir=set_dir, lq=lq,
                             kernel=kernel if kernel.is_file() else None,
                             rule="extension and a suffix '_GT' aside", name=f"{set_dir.name}_{kernel_dir.name}")


def _pick(folders: dict[str, Path], wanted: str | None, option: str, parent: Path) -> Path:
    """The folder named ``wanted`` (any case), or the only one."""
    if wanted is not None:
        if wanted.lower() not in folders:
            raise DataError(f"no folder '{wanted}' in '{parent}' (option {option}); found {_names(folders)}")
        return folders[wanted.lower()]
    if len(folders) != 1:
        found = _names(folders) if folders else "none"
        raise DataError(f"'{parent}' holds {len(folders)} folders to choose from ({found}); pass {option}")
    return next(iter(folders.values()))


def _names(folders: dict[str, Path]) -> str:
    return ", ".join(f"'{p.name}'" for p in folders.values())
