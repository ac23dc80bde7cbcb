from __future__ import annotations

import pytest
from pydantic import Field

import restorefw
from restorefw import ComponentField, RecipeError, Registry, RegistryError, StrictModel


class ScaleConfig(StrictModel):
    factor: float = Field(1.0, gt=0)


class PairConfig(StrictModel):
    first: ComponentField("loss")
    rest: list[ComponentField("loss")] = []


def make_registry() -> Registry:
    reg = Registry()
    reg.register("loss", "scaled", lambda factor: ("scaled", factor), schema=ScaleConfig, plugin="a")
    reg.register("loss", "pair", lambda first, rest: ("pair", first, rest), schema=PairConfig, plugin="b")

    def plain(alpha: int, beta: str = "x"):
        return ("plain", alpha, beta)

    reg.register("loss", "plain", plain, plugin="c")
    return reg


def test_create_validates_and_fills_defaults():
    reg = make_registry()
    assert reg.create("loss", "scaled") == ("scaled", 1.0)
    assert reg.create("loss", {"type": "scaled", "factor": 2}) == ("scaled", 2.0)
    assert reg.create("loss", "scaled", factor=3) == ("scaled", 3.0)


def test_schema_from_signature_requires_and_forbids():
    reg = make_registry()
    assert reg.create("loss", "plain", alpha=1) == ("plain", 1, "x")
    with pytest.raises(RecipeError, match="alpha: Field required"):
        reg.create("loss", "plain")
    with pytest.raises(RecipeError, match="gamma: unknown key"):
        reg.create("loss", "plain", alpha=1, gamma=2)


def test_nested_components_are_built_and_errors_have_paths():
    reg = make_registry()
    built = reg.create("loss", {"type": "pair", "first": {"type": "scaled", "factor": 2}, "rest": ["scaled"]})
    assert built == ("pair", ("scaled", 2.0), [("scaled", 1.0)])
    with pytest.raises(RecipeError) as info:
        reg.resolve("loss", {"type": "pair", "first": {"type": "scaled", "factor": -1},
                             "rest": [{"type": "scaeld"}]}, "stages[0].loss")
    lines = str(info.value).splitlines()
    assert "stages[0].loss.first.factor: Input should be greater than 0" in lines
    assert any(line.startswith("stages[0].loss.rest[0].type: unknown loss 'scaeld' (did you mean 'scaled'?)")
               for line in lines)


def test_resolve_returns_complete_spec():
    reg = make_registry()
    assert reg.resolve("loss", {"type": "pair", "first": "scaled"}) == {
        "type": "pair", "first": {"type": "scaled", "factor": 1.0}, "rest": []}


def test_duplicate_names_name_both_origins():
    reg = make_registry()
    with pytest.raises(RegistryError, match="registered twice: by plugin 'a'.*by plugin 'z'"):
        reg.register("loss", "scaled", lambda: None, plugin="z")


def test_unknown_kind_and_name():
    reg = make_registry()
    with pytest.raises(RegistryError, match="did you mean 'loss'"):
        reg.get("los", "scaled")
    with pytest.raises(RegistryError, match="unknown loss 'scale' \\(did you mean 'scaled'\\?\\)"):
        reg.get("loss", "scale")


def test_list_filters_by_kind_and_pattern():
    reg = make_registry()
    assert [e.name for e in reg.list("loss", "p*")] == ["pair", "plain"]
    assert reg.list("metric") == []


def test_module_level_create_uses_installed_plugins():
    metric = restorefw.create("metric", "psnr", crop_border=4, y_channel=True)
    assert metric.crop_border == 4 and metric.y_channel
    assert {e.name for e in restorefw.list_components("task")} >= {"sr", "denoise", "derain", "deblur"}


def test_nested_component_defaults_are_resolved_and_built():
    reg = make_registry()

    class DefaultedConfig(StrictModel):
        inner: ComponentField("loss") = "scaled"

    reg.register("loss", "defaulted", lambda inner: ("defaulted", inner), schema=DefaultedConfig, plugin="d")
    assert reg.resolve("loss", "defaulted") == {"type": "defaulted", "inner": {"type": "scaled", "factor": 1.0}}
    assert reg.create("loss", "defaulted") == ("defaulted", ("scaled", 1.0))


def test_missing_required_nested_component_is_a_recipe_error():
    reg = make_registry()
    with pytest.raises(RecipeError) as info:
        reg.resolve("loss", {"type": "pair"}, "stages[0].loss")
    assert info.value.problems == [("stages[0].loss.first", "Field required")]


def test_plugin_datasets_can_be_paired():
    import torch

    from restorefw.data import sample_batch

    class Pairs:
        paired, scale, names = True, 2, ["a"]

        def __len__(self) -> int:
            return 1

        def __getitem__(self, index: int):
            gt = torch.arange(64.0).reshape(1, 8, 8) / 64
            return gt[:, ::2, ::2], gt

        def image_size(self, index: int):
            return (8, 8)

        def source(self, index: int) -> str:
            return "pairs[0]"

    lq, gt = sample_batch(Pairs(), 3, 4, torch.Generator().manual_seed(0), augment=False)
    assert lq.shape == (3, 1, 2, 2) and gt.shape == (3, 1, 4, 4)
    assert torch.equal(lq, gt[..., ::2, ::2])
