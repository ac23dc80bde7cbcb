"""Models with their weights: each checkpoint file is read once, by the code that needs it."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w
import torch

import restorefw
from restorefw import Registry
from restorefw.engine import RunRequest, check_recipe, run_recipe
from restorefw.testing import tiny_recipe
from restorefw.weights import save_weights

UNET = {"type": "ddep.unet.encoder", "widths": [8, 16], "groups": 4}
DECODER = {"type": "ddep.unet.decoder", "widths": [8, 16], "groups": 4}
# tiny_recipe's model section is merged: its rescnn keys are removed for the composition.
NO_RESCNN = {"channels": None, "blocks": None}


@pytest.fixture
def part_checkpoint(registry: Registry, tmp_path: Path) -> Path:
    path = tmp_path / "encoder.safetensors"
    torch.manual_seed(1)
    save_weights(path, registry.create("model", UNET).state_dict(), {"model": UNET})
    return path


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every safetensors file read as a state dict, by path."""
    import safetensors.torch

    seen: list[str] = []
    load_file = safetensors.torch.load_file

    def counting(path: str, *args: object, **kwargs: object) -> dict[str, torch.Tensor]:
        seen.append(str(path))
        return load_file(path, *args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "load_file", counting)
    return seen


def test_a_part_checkpoint_is_read_once_per_run(registry, tmp_path, part_checkpoint, reads) -> None:
    model = {"type": "encoder_decoder", "encoder": {**UNET, "checkpoint": str(part_checkpoint)}, "decoder": DECODER}
    recipe = tmp_path / "r.toml"
    stages = [{"name": "s", "steps": 1}]
    recipe.write_text(tomli_w.dumps(tiny_recipe("once", model={**model, **NO_RESCNN}, stages=stages)))
    outcome = run_recipe(RunRequest(recipe=recipe, out=tmp_path / "run", quiet=True), registry)
    assert outcome.summary["status"] == "complete"
    assert reads.count(str(part_checkpoint)) == 1
    start = restorefw.load_model(str(tmp_path / "run/checkpoints/s-1.safetensors"), registry)[0]
    assert start.encoder.stem.weight.shape == (8, 3, 3, 3)


def test_validation_checks_the_file_without_reading_it(registry, tmp_path, part_checkpoint, reads) -> None:
    model = {"type": "encoder_decoder", "encoder": {**UNET, "checkpoint": str(part_checkpoint)}, "decoder": DECODER}
    resolved = restorefw.resolve_recipe(tiny_recipe("check", model={**model, **NO_RESCNN}), registry)
    check_recipe(resolved, registry)
    assert reads == []
    missing = {**model, "encoder": {**UNET, "checkpoint": str(tmp_path / "nowhere.safetensors")}}
    with pytest.raises(restorefw.RecipeError, match="nowhere.safetensors' not found"):
        check_recipe(restorefw.resolve_recipe(tiny_recipe("check", model={**missing, **NO_RESCNN}), registry), registry)


def test_build_model_loads_parts_before_the_whole(registry, part_checkpoint) -> None:
    model = restorefw.build_model(registry, {"type": "encoder_decoder", "decoder": DECODER,
                                             "encoder": {**UNET, "checkpoint": str(part_checkpoint)}})
    plain = registry.create("model", {"type": "encoder_decoder", "decoder": DECODER,
                                      "encoder": {**UNET, "checkpoint": str(part_checkpoint)}})
    saved = restorefw.load_model(str(part_checkpoint), registry)[0].state_dict()
    assert all(torch.equal(model.encoder.state_dict()[k], v) for k, v in saved.items())
    assert not all(torch.equal(plain.encoder.state_dict()[k], v) for k, v in saved.items())
