"""Test-set layouts as a registered kind: a lab's own layout, from a plugin, in the detection order."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from eval_helpers import png, tiny_checkpoint

from restorefw import RegistryError, hookimpl
from restorefw._errors import DataError
from restorefw.data import LAYOUTS, Layout, LayoutOptions, TestSet, build_testset, parse_options
from restorefw.engine import EvalRequest, SetRequest, run_eval
from restorefw.engine._evalsets import registered_layouts
from restorefw.testing import check_layout, registry_with


class FlatPairs(Layout):
    """A lab's layout: ``<name>_lq.png`` beside ``<name>_gt.png`` in one folder."""

    name: ClassVar[str] = "flat_pairs"
    looks_for: ClassVar[str] = "flat_pairs (<name>_lq.png + <name>_gt.png in one folder)"
    options: ClassVar[type[LayoutOptions]] = LayoutOptions
    order: ClassVar[int] = 50  # before gt_only, which takes any folder of images

    def detect(self, root: Path) -> bool:
        return root.is_dir() and any(p.name.endswith("_lq.png") for p in root.iterdir())

    def load(self, root: Path, *, scale: int | None = None, **options: Any) -> TestSet:
        opts = parse_options(LayoutOptions, self.name, options)
        lq = {p.name[: -len("_lq.png")]: p for p in sorted(Path(root).glob("*_lq.png"))}
        gt = {p.name[: -len("_gt.png")]: p for p in sorted(Path(root).glob("*_gt.png"))}
        if not lq:
            raise DataError(f"test set '{root}' holds no *_lq.png files")
        return build_testset(root=Path(root), layout=self.name, options=opts, scale=scale, gt_dir=Path(root), gt=gt,
                             lq_dir=Path(root), lq=lq)


class LabPlugin:
    name = "lab"

    @hookimpl
    def register_layouts(self, register: Any) -> None:
        register("flat_pairs", FlatPairs, description=FlatPairs.looks_for)


class Misnamed:
    name = "misnamed"

    @hookimpl
    def register_layouts(self, register: Any) -> None:
        register("other_name", FlatPairs)


def _flat_set(root: Path) -> Path:
    for index, name in enumerate(("a", "b")):
        png(root / f"{name}_lq.png", 12, 12, seed=index)
        png(root / f"{name}_gt.png", 12, 12, seed=index + 10)
    return root


def test_built_in_layouts_are_registered_in_detection_order(registry):
    assert [layout.name for layout in registered_layouts(registry)] == [layout.name for layout in LAYOUTS]
    assert [layout.name for layout in LAYOUTS] == ["mzsr", "sr_pack", "paired", "gt_only"]
    assert {e.name: e.plugin for e in registry.list("layout")} == dict.fromkeys(["gt_only", "mzsr", "paired",
                                                                                  "sr_pack"], "core")


def test_a_plugin_layout_is_detected_before_gt_only(tmp_path):
    example = _flat_set(tmp_path / "flat")
    assert check_layout(FlatPairs(), example).names == ["a", "b"]
    registry = registry_with(LabPlugin(), load_entrypoints=True, only=["basic"])
    assert [layout.name for layout in registered_layouts(registry)][:2] == ["flat_pairs", "mzsr"]
    model = tiny_checkpoint(registry, tmp_path / "m.safetensors")
    outcome = run_eval(EvalRequest(models=(model,), sets=(SetRequest(str(example)),), out=tmp_path / "ev",
                                   quiet=True), registry)
    assert outcome.summary["sets"][0]["layout"] == "flat_pairs"
    assert len(outcome.summary["per_image"]) == 4


def test_a_layout_must_carry_its_registered_name():
    with pytest.raises(RegistryError, match="layout 'other_name' .* calls itself 'flat_pairs'"):
        registered_layouts(registry_with(Misnamed()))
