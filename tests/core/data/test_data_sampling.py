"""Tests for deterministic batch sampling, augmentation and evaluation crops."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from restorefw._errors import DataError
from restorefw.data import (
    ImageList,
    PairedFolder,
    augment,
    center_crop,
    eval_images,
    random_crop,
    sample_batch,
    write_image,
)


def _images(seed: int = 0) -> ImageList:
    rng = torch.Generator().manual_seed(seed)
    images = [torch.rand(3, 20 + 3 * i, 24 + i, generator=rng) for i in range(4)]
    return ImageList(images, [f"im{i}" for i in range(4)])


def _paired(root: Path, scale: int = 2) -> PairedFolder:
    """Pairs whose lq image is exactly the gt image average-pooled by ``scale``.

    The gt levels are multiples of scale**2 in 16 bits, so the pooled values
    are whole 16-bit levels too and both files store them exactly.
    """
    rng = torch.Generator().manual_seed(3)
    step = scale * scale
    for i, (height, width) in enumerate([(24, 32), (30, 20), (16, 16)]):
        levels = torch.randint(0, 65536 // step, (3, height, width), generator=rng) * step
        gt = levels / 65535
        write_image(root / "gt" / f"p{i}.png", gt, bit_depth=16)
        write_image(root / "lq" / f"p{i}.png", F.avg_pool2d(gt, scale), bit_depth=16)
    return PairedFolder(root, scale=scale)


def test_same_seed_same_batch_and_other_seed_differs() -> None:
    dataset = _images()
    first = sample_batch(dataset, 6, 8, torch.Generator().manual_seed(5))
    again = sample_batch(dataset, 6, 8, torch.Generator().manual_seed(5))
    other = sample_batch(dataset, 6, 8, torch.Generator().manual_seed(6))
    assert first.shape == (6, 3, 8, 8) and first.dtype == torch.float32
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_unaugmented_patches_are_crops_of_the_images() -> None:
    dataset = _images()
    batch = sample_batch(dataset, 5, 8, torch.Generator().manual_seed(0), augment=False)
    for patch in batch:
        assert any(
            torch.equal(patch, image[:, top : top + 8, left : left + 8])
            for image in (dataset[i] for i in range(len(dataset)))
            for top in range(image.shape[1] - 7)
            for left in range(image.shape[2] - 7)
        )


@pytest.mark.parametrize("scale", [1, 2])
def test_paired_patches_stay_aligned(tmp_path: Path, scale: int) -> None:
    dataset = _paired(tmp_path, scale)
    for augmented in (False, True):
        lq, gt = sample_batch(dataset, 16, 8, torch.Generator().manual_seed(1), augment=augmented)
        assert lq.shape == (16, 3, 8 // scale, 8 // scale) and gt.shape == (16, 3, 8, 8)
        assert torch.allclose(lq, F.avg_pool2d(gt, scale), atol=1e-6)


def test_sampling_rejects_bad_sizes(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"'im0'.*20x24"):
        sample_batch(_images(), 4, 21, torch.Generator().manual_seed(0))
    with pytest.raises(DataError, match="not a positive multiple of the scale 2"):
        sample_batch(_paired(tmp_path), 4, 7, torch.Generator())
    with pytest.raises(DataError, match="batch size"):
        sample_batch(_images(), 0, 8, torch.Generator())


def test_augment_covers_the_dihedral_group_and_keeps_values() -> None:
    image = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    rng = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(200):
        out = augment(image, rng)
        assert out.is_contiguous() and out.shape[0] == 2
        assert torch.equal(out.flatten().sort().values, image.flatten())
        seen.add((tuple(out.shape), tuple(out.flatten().tolist())))
    assert len(seen) == 8


def test_random_crop() -> None:
    image = torch.rand(3, 10, 12)
    crop = random_crop(image, 5, torch.Generator().manual_seed(2))
    assert crop.shape == (3, 5, 5)
    assert torch.equal(crop, random_crop(image, 5, torch.Generator().manual_seed(2)))
    with pytest.raises(DataError, match="cannot crop a 11x11 patch"):
        random_crop(image, 11, torch.Generator())


def test_center_crop() -> None:
    image = torch.arange(6 * 7, dtype=torch.float32).reshape(1, 6, 7)
    assert torch.equal(center_crop(image, 2), image[:, 2:4, 2:4])
    assert torch.equal(center_crop(image, (6, 3)), image[:, :, 2:5])
    with pytest.raises(DataError, match="cannot crop 7x7"):
        center_crop(image, 7)


def test_eval_images_bounds_and_multiples() -> None:
    dataset = _images()
    assert all(torch.equal(a, dataset[i]) for i, a in enumerate(eval_images(dataset)))
    cropped = eval_images(dataset, max_size=22, multiple=4)
    assert [tuple(image.shape[1:]) for image in cropped] == [(20, 20), (20, 20), (20, 20), (20, 20)]
    assert torch.equal(cropped[1], dataset[1][:, 1:21, 2:22])
    with pytest.raises(DataError, match=r"image 'im0' is 20x24"):
        eval_images(dataset, max_size=3, multiple=4)


def test_eval_images_paired(tmp_path: Path) -> None:
    dataset = _paired(tmp_path, 2)
    pairs = eval_images(dataset, max_size=20, multiple=4)
    assert [tuple(gt.shape[1:]) for _, gt in pairs] == [(20, 20), (20, 20), (16, 16)]
    for lq, gt in pairs:
        assert lq.shape[1:] == (gt.shape[1] // 2, gt.shape[2] // 2)
        assert torch.allclose(lq, F.avg_pool2d(gt, 2), atol=1e-6)
