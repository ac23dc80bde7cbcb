"""What every test-set layout shares: the base class, options, name matching and the checks.

A layout finds the files of a test set in the way some lab or paper lays them
out on disk; :func:`build_testset` then checks what the headers tell: every
input has its ground truth and the other way round, sizes fit the scale, and
the set shares one channel count.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import ValidationError

from restorefw._errors import DataError
from restorefw._schema import StrictModel
from restorefw.data._folders import check_counterparts, hw
from restorefw.data._io import IMAGE_EXTENSIONS, image_shape
from restorefw.data._testsets import TestItem, TestSet

_Options = TypeVar("_Options", bound="LayoutOptions")


class Layout(ABC):
    """A way test sets are laid out on disk.

    Attributes:
        name: the layout's name (``paired``, ``sr_pack``, ...).
        looks_for: what :meth:`detect` looks for, for messages.
        options: the model of the options :meth:`load` takes.
        order: where detection tries the layout: lower first, then by name. The
            built-in ones take 100 (``mzsr``), 200 (``sr_pack``), 300 (``paired``)
            and 900 (``gt_only``, which takes any folder of images); a layout that
            a more general one would also accept needs a lower order than it.
    """

    name: ClassVar[str]
    looks_for: ClassVar[str]
    options: ClassVar[type[LayoutOptions]]
    order: ClassVar[int] = 500

    @abstractmethod
    def detect(self, root: Path) -> bool:
        """Whether ``root`` looks like this layout, from folder and file names alone."""

    @abstractmethod
    def load(self, root: Path, *, scale: int | None = None, **options: Any) -> TestSet:
        """Finds and checks the test set in ``root``.

        Args:
            root: the test-set folder.
            scale: the super-resolution factor; ``None`` for the layout's default
                or what the files say.
            **options: the layout's options (:attr:`options`).

        Raises:
            DataError: the folder does not hold a test set of this layout, or
                one that cannot be used; the message names the file or option.
        """


class LayoutOptions(StrictModel):
    """Options every layout takes.

    Attributes:
        name: the set's name in tables; default: the folder's name.
        channels: read images with 3 (grey ones replicated, as BasicSR does) or
            1 (colour ones reduced to BT.601 luma) channels; default: the files'
            own count, which must then be the same across the set.
    """

    name: str | None = None
    channels: Literal[1, 3] | None = None


def parse_options(model: type[_Options], layout: str, options: Mapping[str, Any]) -> _Options:
    """Validates a layout's options.

    Raises:
        DataError: an unknown option or a bad value, naming the option and the layout.
    """
    try:
        return model.model_validate(dict(options))
    except ValidationError as error:
        first = error.errors()[0]
        key = first["loc"][0] if first["loc"] else ""
        known = ", ".join(model.model_fields)
        raise DataError(
            f"test-set layout '{layout}', option '{key}': {first['msg']}; the layout takes {known}"
        ) from None


def given_folders(root: Path, options: LayoutOptions, first: str, second: str) -> tuple[str, str] | None:
    """The folders named by the options ``first`` and ``second`` (relative to ``root``), which replace
    detection; ``None`` when neither is given.

    Raises:
        DataError: only one of the two is given.
    """
    a, b = getattr(options, first), getattr(options, second)
    if (a is None) != (b is None):
        raise DataError(f"test set '{root}': the options {first} and {second} go together; got only one")
    return None if a is None or b is None else (a, b)


def keyed(files: Mapping[str, Path], key: Callable[[str], str], folder: Path) -> dict[str, Path]:
    """Files re-keyed by ``key`` applied to the last part of their name.

    Raises:
        DataError: two files end up with the same name, naming both.
    """
    found: dict[str, Path] = {}
    for name, path in files.items():
        head, _, last = name.rpartition("/")
        new = f"{head}/{key(last)}" if head else key(last)
        if new in found:
            raise DataError(
                f"'{found[new]}' and '{path}' in '{folder}' both match the name '{new}'; "
                "expected one image per name"
            )
        found[new] = path
    return found


def strip_affix(pattern: str) -> Callable[[str], str]:
    """A ``key`` for :func:`keyed` that removes the one group of a regular expression."""
    compiled = re.compile(pattern)

    def strip(name: str) -> str:
        match = compiled.fullmatch(name)
        return name[: match.start(1)] + name[match.end(1) :] if match else name

    return strip


def build_testset(
    *,
    root: Path,
    layout: str,
    options: LayoutOptions,
    scale: int | None,
    gt_dir: Path,
    gt: Mapping[str, Path],
    lq_dir: Path | None = None,
    lq: Mapping[str, Path] | None = None,
    kernel: Path | None = None,
    rule: str = "extension aside",
    name: str | None = None,
) -> TestSet:
    """Matches files by name, reads their headers and checks that they make a test set.

    Args:
        root: the test-set folder.
        layout: the layout's name.
        options: the layout's options.
        scale: the super-resolution factor; ``None`` for the ratio of the first
            item's sizes (1 without inputs).
        gt_dir: the folder of ground-truth images, for messages.
        gt: ground-truth files by name.
        lq_dir: the folder of inputs, for messages.
        lq: input files by name; ``None`` when the task makes the inputs.
        kernel: the blur kernel of every input.
        rule: how names were matched, for messages.
        name: the set's name unless the options give one; default: the folder's.

    Raises:
        DataError: a file without its counterpart, a file that is not an image,
            images of different channel counts, an input whose size does not fit
            the scale, or a scale below 1; each message names the file.
    """
    inputs: Mapping[str, Path] = {} if lq is None else lq
    if lq is not None:
        check_counterparts(lq_dir or root, lq, gt_dir, gt, rule)
    shapes = {path: image_shape(path) for path in [*gt.values(), *inputs.values()]}
    names = sorted(gt)
    if scale is None:
        scale = max(1, shapes[gt[names[0]]][1] // shapes[inputs[names[0]]][1]) if inputs else 1
    if scale < 1:
        raise DataError(f"test set '{root}': scale must be a positive integer, got {scale}")
    channels = options.channels or _common_channels(shapes)
    for item in names:
        _check_fit(gt[item], inputs.get(item), shapes, scale)
    items = tuple(TestItem(n, gt[n], inputs.get(n), kernel) for n in names)
    return TestSet(options.name or name or root.name, layout, root, scale, channels, items)


def _common_channels(shapes: Mapping[Path, tuple[int, int, int]]) -> int:
    """The one channel count of all files; an error names the first file that differs."""
    files = iter(shapes.items())
    first, (channels, _, _) = next(files)
    for path, (other, _, _) in files:
        if other != channels:
            raise DataError(
                f"'{path}' has {other} channel(s) but '{first}' has {channels}; expected one channel "
                "count across the test set (pass channels=3 to read grey images as RGB, or channels=1)"
            )
    return channels


def _check_fit(gt: Path, lq: Path | None, shapes: Mapping[Path, tuple[int, int, int]], scale: int) -> None:
    """Checks BasicSR's convention: the input is the ground truth, cut to a multiple of the scale, / scale."""
    gt_size = shapes[gt][1:]
    expected = (gt_size[0] // scale, gt_size[1] // scale)
    if min(expected) < 1:
        raise DataError(
            f"'{gt}' is {hw(gt_size)} (height x width), smaller than the scale {scale}; "
            f"expected at least {scale} pixels on each side"
        )
    if lq is not None and shapes[lq][1:] != expected:
        raise DataError(
            f"'{lq}' is {hw(shapes[lq][1:])} but '{gt}' is {hw(gt_size)} (height x width); at scale {scale} "
            f"expected the input to be {hw(expected)}, the ground truth cut to a multiple of {scale} "
            f"and divided by {scale}"
        )


def subfolders(folder: Path) -> dict[str, Path]:
    """The subfolders of ``folder`` by lower-case name (the first in sorted order on a clash)."""
    if not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_dir() and not path.name.startswith("."):
            found.setdefault(path.name.lower(), path)
    return found


def holds_images(folder: Path) -> bool:
    """Whether ``folder`` holds image files directly (hidden files aside)."""
    return folder.is_dir() and any(
        path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".") and path.is_file()
        for path in folder.iterdir()
    )


def require_folder(root: Path) -> Path:
    """``root`` as a path, checked to be a folder.

    Raises:
        DataError: it is missing or not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        reason = "is not a folder" if root.exists() else "does not exist"
        raise DataError(f"test set '{root}' {reason}; expected a folder of images")
    return root
