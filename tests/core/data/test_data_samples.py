"""Tests for the scikit-image sample images, which must load without a network."""

from __future__ import annotations

import pytest
import torch

from restorefw._errors import DataError
from restorefw.data import SKIMAGE_SAMPLES, SkimageSamples, load_sample


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("name", SKIMAGE_SAMPLES)
def test_every_sample_loads_offline(name: str) -> None:
    image = load_sample(name)
    assert image.dtype == torch.float32
    assert image.dim() == 3 and image.shape[0] == 3 and min(image.shape[1:]) >= 150
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    assert float(image.std()) > 0.01


def test_grey_sample_is_replicated() -> None:
    camera = load_sample("camera")
    assert camera.shape == (3, 512, 512)
    assert torch.equal(camera[0], camera[1]) and torch.equal(camera[0], camera[2])


def test_unknown_sample_suggests_a_name() -> None:
    with pytest.raises(DataError, match=r"unknown sample image 'astronot'; did you mean 'astronaut'\?"):
        load_sample("astronot")
    with pytest.raises(DataError, match="expected one of: astronaut, brick") as error:
        load_sample("zzz")
    assert "did you mean" not in str(error.value)


@pytest.mark.usefixtures("no_network")
def test_skimage_samples_dataset() -> None:
    default = SkimageSamples()
    assert default.names == list(SkimageSamples.DEFAULT_NAMES)
    assert not default.paired and default.scale == 1
    chosen = SkimageSamples(["coins", "rocket"])
    assert len(chosen) == 2 and chosen.names == ["coins", "rocket"]
    assert chosen[1].shape == (3, 427, 640) and chosen.image_size(0) == (303, 384)
    with pytest.raises(DataError, match="did you mean 'coffee'"):
        SkimageSamples(["cofee"])
