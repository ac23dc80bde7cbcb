"""The conformance check of test-set layouts passes the built-in layouts and catches broken ones."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat

from restorefw._errors import DataError
from restorefw.data import GTOnlyLayout, LayoutOptions, MZSRLayout, PairedLayout, SRPackLayout, TestSet
from restorefw.testing._build import ContractError
from restorefw.testing._layout_checks import check_layout
from restorefw.testing._packs import make_sr_pack


def _save(path: Path, height: int, width: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)


def test_built_in_layouts_pass(tmp_path: Path) -> None:
    pack = make_sr_pack(tmp_path / "pack", {"a": torch.rand(3, 24, 24)}, (2, 3))
    assert check_layout(SRPackLayout(), pack, scale=3).scale == 3
    _save(tmp_path / "paired" / "input" / "a.png", 12, 12)
    _save(tmp_path / "paired" / "target" / "a.png", 12, 12)
    check_layout(PairedLayout(), tmp_path / "paired")
    assert check_layout(GTOnlyLayout(), tmp_path / "paired" / "target", scale=4).scale == 4
    _save(tmp_path / "mzsr" / "Input" / "g20" / "Set5" / "a.png", 6, 6)
    _save(tmp_path / "mzsr" / "GT" / "Set5" / "a_GT.png", 12, 13)
    savemat(tmp_path / "mzsr" / "Input" / "g20" / "kernel.mat", {"kernel": np.ones((3, 3))})
    check_layout(MZSRLayout(), tmp_path / "mzsr")


class _Careless(GTOnlyLayout):
    name: ClassVar[str] = "careless"

    def load(self, root: Path, *, scale: int | None = None, **options: Any) -> TestSet:
        if not any(Path(root).iterdir()):
            raise FileNotFoundError("nothing here")
        return super().load(root, scale=scale, **options)


class _Mislabelled(GTOnlyLayout):
    name: ClassVar[str] = "mislabelled"

    def load(self, root: Path, *, scale: int | None = None, **options: Any) -> TestSet:
        return dataclasses.replace(super().load(root, scale=scale, **options), layout="gt_only")


class _BadOptions(GTOnlyLayout):
    options: ClassVar[type[LayoutOptions]] = dict  # type: ignore[assignment]


@pytest.mark.parametrize(("layout", "message"), [
    (_Careless(), ("layout 'careless': load on an empty folder raised FileNotFoundError: nothing here; "
                   "expected a DataError")),
    (_Mislabelled(), "layout 'mislabelled': the test set says layout 'gt_only'"),
    (_BadOptions(), "options must be a subclass of restorefw.data.LayoutOptions"),
])
def test_broken_layouts_fail(tmp_path: Path, layout: GTOnlyLayout, message: str) -> None:
    _save(tmp_path / "set" / "a.png", 8, 8)
    with pytest.raises(ContractError, match=message):
        check_layout(layout, tmp_path / "set")
    with pytest.raises(DataError):
        GTOnlyLayout().load(tmp_path / "set", channels=2)
