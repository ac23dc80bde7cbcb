"""restorefw-jpeg: the conformance kit, plus what is specific to JPEG compression."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import restorefw_jpeg
import torch
from PIL import Image

import restorefw
from restorefw.testing import check_degradation, check_task, registry_with

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "dejpeg_quick.toml"


@pytest.fixture(scope="module")
def registry() -> restorefw.Registry:
    return registry_with(restorefw_jpeg)


def _images(batch: int, channels: int = 3, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0, 1, size).expand(batch, channels, size, size)
    return 0.6 * ramp + 0.4 * torch.rand((batch, channels, size, size), generator=g)


def test_jpeg_meets_the_degradation_contract(registry: restorefw.Registry) -> None:
    check_degradation(registry, "jpeg")
    check_degradation(registry, "jpeg", quality=[5, 15], subsampling="4:4:4")
    check_degradation(registry, "jpeg", quality=40, stochastic=False)
    check_degradation(registry, "jpeg", quality=40, stochastic=False, input_shape=(2, 1, 24, 24))


def test_dejpeg_meets_the_task_contract(registry: restorefw.Registry) -> None:
    task = check_task(registry, "dejpeg", quality=[20, 50], y_channel=True)
    assert (task.name, task.scale, task.crop_border, task.y_channel) == ("dejpeg", 1, 0, True)


def test_output_is_pillows_jpeg(registry: restorefw.Registry) -> None:
    hr = _images(1)
    lq, target = registry.create("degradation", "jpeg", quality=35)(hr, torch.Generator().manual_seed(0))
    pixels = (hr[0] * 255).round().byte().permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=35, subsampling=2)
    expected = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
    assert torch.equal((lq[0] * 255).round().byte().permute(1, 2, 0), torch.from_numpy(expected.copy()))
    assert target is hr


def test_quality_is_drawn_per_image_from_the_generator(registry: restorefw.Registry) -> None:
    jpeg = registry.create("degradation", "jpeg", quality=[5, 95])
    same_image = _images(1).expand(6, -1, -1, -1).contiguous()
    lq, _ = jpeg(same_image, torch.Generator().manual_seed(0))
    assert len({lq[i].sum().item() for i in range(6)}) > 1
    assert jpeg.qualities(6, torch.Generator().manual_seed(0)) == jpeg.qualities(6, torch.Generator().manual_seed(0))


def test_lower_quality_loses_more(registry: restorefw.Registry) -> None:
    hr = _images(2)
    errors = [
        (registry.create("degradation", "jpeg", quality=q)(hr, torch.Generator())[0] - hr).abs().mean().item()
        for q in (10, 50, 95)
    ]
    assert errors[0] > errors[1] > errors[2] > 0


@pytest.mark.parametrize("quality", [0, 101, [60, 40]])
def test_invalid_quality_is_rejected(registry: restorefw.Registry, quality: object) -> None:
    with pytest.raises(restorefw.ConfigError, match="quality"):
        registry.create("degradation", "jpeg", quality=quality)


def test_two_channel_images_are_refused(registry: restorefw.Registry) -> None:
    with pytest.raises(ValueError, match=r"\(B, 1 or 3, H, W\)"):
        registry.create("degradation", "jpeg")(_images(1, channels=2), torch.Generator())


def test_quick_recipe_validates() -> None:
    registry = registry_with(restorefw_jpeg, load_entrypoints=True, only=["basic"])
    resolved = restorefw.resolve_recipe(restorefw.load_recipe(RECIPE), registry)
    assert resolved["task"] == {"type": "dejpeg", "quality": (20, 50), "subsampling": "4:2:0", "y_channel": False}
