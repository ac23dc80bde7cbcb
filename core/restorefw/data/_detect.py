"""Finding a test set's layout and loading it: the detection order and the layouts by name."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from restorefw._errors import DataError
from restorefw._hints import did_you_mean
from restorefw.data._layout_base import Layout, require_folder
from restorefw.data._layouts import GTOnlyLayout, PairedLayout
from restorefw.data._sr_layouts import MZSRLayout, SRPackLayout
from restorefw.data._testsets import TestSet


def in_detection_order(layouts: Iterable[Layout]) -> tuple[Layout, ...]:
    """``layouts`` sorted as detection tries them: by :attr:`Layout.order`, then by name."""
    return tuple(sorted(layouts, key=lambda layout: (layout.order, layout.name)))


LAYOUTS: tuple[Layout, ...] = in_detection_order((MZSRLayout(), SRPackLayout(), PairedLayout(), GTOnlyLayout()))
"""The built-in layouts in detection order (:attr:`Layout.order`): the most specific first, since MZSR's
``Input/`` + ``GT/`` would also pass for paired folders and every layout holds images that ``gt_only``
would take. The plugin registry adds the layouts of installed plugins (kind ``layout``)."""


def detect_layout(root: str | Path, layouts: Sequence[Layout] = LAYOUTS) -> Layout:
    """The first of ``layouts`` whose :meth:`~Layout.detect` accepts ``root``.

    Raises:
        DataError: ``root`` is not a folder, or no layout fits; the message
            lists what each layout looked for.
    """
    root = require_folder(Path(root))
    for layout in layouts:
        if layout.detect(root):
            return layout
    looked_for = "; ".join(layout.looks_for for layout in layouts)
    raise DataError(f"cannot tell the layout of test set '{root}': looked for {looked_for}; pass a layout name")


def find_layout(name: str, layouts: Sequence[Layout] = LAYOUTS) -> Layout:
    """The layout called ``name``.

    Raises:
        DataError: no such layout, with the closest name.
    """
    by_name = {layout.name: layout for layout in layouts}
    if name not in by_name:
        raise DataError(
            f"unknown test-set layout '{name}'{did_you_mean(name, by_name)}; expected one of {', '.join(by_name)}"
        )
    return by_name[name]


def load_testset(
    root: str | Path,
    layout: str | None = None,
    *,
    scale: int | None = None,
    layouts: Sequence[Layout] = LAYOUTS,
    **options: Any,
) -> TestSet:
    """Loads the test set in ``root``, in the named layout or the one detected.

    Args:
        root: the test-set folder.
        layout: a layout name, overriding detection.
        scale: the super-resolution factor (the model's); ``None`` for the layout's default or what the files say.
        layouts: the layouts to choose from, in detection order.
        **options: the layout's options (its ``options`` model), e.g. ``lq_dir``/``gt_dir`` for ``paired``.

    Raises:
        DataError: an unknown layout, a folder no layout fits, an unknown
            option, or a test set that cannot be used; one line naming the
            file, folder or option.
    """
    chosen = find_layout(layout, layouts) if layout is not None else detect_layout(root, layouts)
    return chosen.load(Path(root), scale=scale, **options)
