"""The contract of a test-set layout: cheap detection, a checked test set, clear errors."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from restorefw._errors import DataError
from restorefw.data import Layout, LayoutOptions, TestSet
from restorefw.testing._build import fail, require

__all__ = ["check_layout"]


def check_layout(layout: Layout, root: str | Path, *, scale: int | None = None, **options: Any) -> TestSet:
    """Assert the layout contract on an example test set and return the set loaded.

    Checks: ``name`` and ``looks_for`` are set and ``options`` derives from
    :class:`~restorefw.data.LayoutOptions`; ``detect`` answers ``True`` for
    ``root`` and ``False`` for an empty folder; ``load`` returns a non-empty
    :class:`~restorefw.data.TestSet` of this layout with unique, sorted names
    and existing files, and raises :class:`DataError` (not another error) for
    an empty folder and for an unknown option; decoded items have the set's
    channel count, inputs are ``scale`` times smaller than their (mod-cropped)
    ground truth, and kernels are 2-D and sum to 1.

    Args:
        layout: the layout under test.
        root: an example test set in that layout.
        scale: passed to ``load``.
        **options: the layout's options, passed to ``load``.
    """
    label = f"layout '{getattr(layout, 'name', type(layout).__name__)}'"
    require(isinstance(getattr(layout, "name", None), str) and layout.name, label, "needs a name")
    require(isinstance(getattr(layout, "looks_for", None), str) and layout.looks_for, label,
            "needs looks_for, the text that says what detect looks for")
    require(isinstance(layout.options, type) and issubclass(layout.options, LayoutOptions), label,
            "options must be a subclass of restorefw.data.LayoutOptions")
    root = Path(root)
    require(layout.detect(root) is True, label, f"detect({str(root)!r}) must be True for the example test set")
    with tempfile.TemporaryDirectory() as empty:
        require(layout.detect(Path(empty)) is False, label, "detect must be False for an empty folder")
        _expect_data_error(label, "an empty folder", lambda: layout.load(Path(empty), scale=scale, **options))
    _expect_data_error(label, "an unknown option", lambda: layout.load(root, scale=scale, **options,
                                                                        no_such_option_for_sure=1))
    testset = layout.load(root, scale=scale, **options)
    require(isinstance(testset, TestSet), label, f"load must return a TestSet, got {type(testset).__name__}")
    require(testset.layout == layout.name, label, f"the test set says layout '{testset.layout}'")
    require(len(testset) > 0, label, "load returned an empty test set")
    require(testset.names == sorted(set(testset.names)), label, "item names must be unique and sorted")
    for item in testset.items:
        for path in (item.gt, item.lq, item.kernel):
            require(path is None or path.is_file(), label, f"item '{item.name}': '{path}' is not a file")
    for name, lq, gt, kernel in testset.decoded():
        require(gt.shape[0] == testset.channels, label, f"item '{name}': ground truth of shape {tuple(gt.shape)}, "
                f"expected {testset.channels} channels")
        if lq is not None:
            expected = (testset.channels, gt.shape[1] // testset.scale, gt.shape[2] // testset.scale)
            require(tuple(lq.shape) == expected, label, f"item '{name}': input of shape {tuple(lq.shape)} "
                    f"for ground truth {tuple(gt.shape)} at scale {testset.scale}")
        if kernel is not None:
            require(kernel.dim() == 2 and abs(float(kernel.double().sum()) - 1) < 1e-5, label,
                    f"item '{name}': the kernel must be 2-D and sum to 1")
    return testset


def _expect_data_error(label: str, what: str, call: Callable[[], object]) -> None:
    try:
        call()
    except DataError:
        return
    except Exception as error:  # a contract check reports whatever the layout raised
        fail(label, f"load on {what} raised {type(error).__name__}: {error}; expected a DataError")
    fail(label, f"load on {what} returned; expected a DataError")
