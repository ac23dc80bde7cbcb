"""Tests for the in-memory and folder datasets and for check_min_size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from restorefw._errors import DataError
from restorefw.data import ImageFolder, ImageList, PairedFolder, check_min_size, read_image


def _save(path: Path, height: int = 8, width: int = 8, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def _truncate(path: Path) -> Path:
    data = _save(path, 64, 64).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_image_list() -> None:
    images = [torch.zeros(3, 4, 5), torch.ones(3, 6, 7)]
    dataset = ImageList(images, ["a", "b"])
    assert len(dataset) == 2 and dataset.names == ["a", "b"]
    assert not dataset.paired and dataset.scale == 1
    assert dataset[1] is images[1] and dataset.image_size(1) == (6, 7)
    with pytest.raises(DataError, match="2 images but 1 names"):
        ImageList(images, ["a"])
    with pytest.raises(DataError, match="duplicates: 'a'"):
        ImageList(images, ["a", "a"])
    with pytest.raises(DataError, match="at least one image"):
        ImageList([], [])


def test_image_folder_lists_sorted_names(tmp_path: Path) -> None:
    for name in ("b.png", "a.PNG", "sub/c.bmp", "notes.txt", ".hidden.png", ".git/d.png"):
        _save(tmp_path / name) if not name.endswith(".txt") else (tmp_path / name).write_text("x")
    dataset = ImageFolder(tmp_path)
    assert dataset.names == ["a", "b", "sub/c"]
    assert dataset.files == [tmp_path / "a.PNG", tmp_path / "b.png", tmp_path / "sub" / "c.bmp"]
    assert ImageFolder(tmp_path, recursive=False).names == ["a", "b"]
    assert ImageFolder(tmp_path, extensions=("bmp",)).names == ["sub/c"]
    assert torch.equal(dataset[2], read_image(tmp_path / "sub" / "c.bmp"))
    assert ImageFolder(tmp_path, channels=1)[0].shape == (1, 8, 8)


def test_image_folder_caches(tmp_path: Path) -> None:
    _save(tmp_path / "a.png")
    cached, uncached = ImageFolder(tmp_path), ImageFolder(tmp_path, cache=False)
    assert cached[0] is cached[0] and cached[-1] is cached[0]
    assert uncached[0] is not uncached[0] and torch.equal(uncached[0], cached[0])
    with pytest.raises(IndexError):
        cached[1]


def test_image_folder_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"image folder '.*nowhere' does not exist"):
        ImageFolder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"image folder '.*empty' holds no images.*\.png"):
        ImageFolder(tmp_path / "empty")
    with pytest.raises(DataError, match="is not a folder"):
        ImageFolder(_save(tmp_path / "a.png"))
    _save(tmp_path / "dup" / "x.png")
    _save(tmp_path / "dup" / "x.jpg")
    with pytest.raises(DataError, match=r"x\.jpg' and '.*x\.png' have the same name"):
        ImageFolder(tmp_path / "dup")


def test_image_folder_bad_files_raise(tmp_path: Path) -> None:
    _save(tmp_path / "a.png")
    (tmp_path / "b.png").write_text("not an image")
    with pytest.raises(DataError, match=r"cannot read image '.*b\.png'"):
        ImageFolder(tmp_path)
    (tmp_path / "b.png").unlink()
    _truncate(tmp_path / "c.png")
    dataset = ImageFolder(tmp_path)  # headers are intact: the cut shows on reading
    with pytest.raises(DataError, match=r"cannot read image '.*c\.png'"):
        dataset[1]


def test_image_folder_skip_bad_warns(tmp_path: Path) -> None:
    _save(tmp_path / "good.png")
    for name in ("b1.png", "b2.png", "b3.png", "b4.png"):
        (tmp_path / name).write_text("junk")
    _truncate(tmp_path / "cut.png")
    with pytest.warns(UserWarning, match=r"skipped 5 unreadable .*'b1\.png', 'b2\.png', 'b3\.png' and 2 more"):
        dataset = ImageFolder(tmp_path, skip_bad=True)
    assert dataset.names == ["good"]
    assert sorted(p.name for p in dataset.skipped_files) == ["b1.png", "b2.png", "b3.png", "b4.png", "cut.png"]
    (tmp_path / "good.png").unlink()
    with pytest.warns(UserWarning), pytest.raises(DataError, match="no readable images"):
        ImageFolder(tmp_path, skip_bad=True, cache=False)


def _pairs(root: Path, names: list[str], lq_size: int = 4, scale: int = 2) -> None:
    for i, name in enumerate(names):
        _save(root / "gt" / f"{name}.png", lq_size * scale, lq_size * scale, seed=i)
        _save(root / "lq" / f"{name}.bmp", lq_size, lq_size, seed=i)


def test_paired_folder_matches_by_name(tmp_path: Path) -> None:
    _pairs(tmp_path, ["b", "a", "sub/c"])
    dataset = PairedFolder(tmp_path, scale=2)
    assert dataset.paired and dataset.scale == 2 and len(dataset) == 3
    assert dataset.names == ["a", "b", "sub/c"]
    lq, gt = dataset[0]
    assert lq.shape == (3, 4, 4) and gt.shape == (3, 8, 8)
    assert torch.equal(gt, read_image(tmp_path / "gt" / "a.png"))
    assert torch.equal(lq, read_image(tmp_path / "lq" / "a.bmp"))
    assert dataset.image_size(2) == (8, 8) and dataset.source(2).endswith("c.png")


def test_paired_folder_missing_counterparts(tmp_path: Path) -> None:
    _pairs(tmp_path, ["a"])
    for name in ("g1", "g2", "g3", "g4", "g5"):
        _save(tmp_path / "gt" / f"{name}.png")
    _save(tmp_path / "lq" / "l1.png")
    with pytest.raises(DataError) as error:
        PairedFolder(tmp_path, scale=2)
    message = str(error.value)
    assert "1 image(s) in" in message and "'l1.png'" in message
    assert "5 image(s) in" in message and "'g1.png', 'g2.png', 'g3.png' and 2 more" in message


def test_paired_folder_size_mismatch(tmp_path: Path) -> None:
    _pairs(tmp_path, ["a"], lq_size=4, scale=2)
    PairedFolder(tmp_path, scale=2)
    with pytest.raises(DataError, match=r"gt.a\.png' is 8x8 but '.*lq.a\.bmp' is 4x4.*3 times.*12x12"):
        PairedFolder(tmp_path, scale=3)
    with pytest.raises(DataError, match=r"'.*missing' does not exist"):
        PairedFolder(tmp_path, lq="missing")


def test_paired_folder_skip_bad(tmp_path: Path) -> None:
    _pairs(tmp_path, ["a", "b"], scale=1)
    (tmp_path / "lq" / "b.bmp").write_text("junk")
    with pytest.warns(UserWarning, match=r"skipped 1 .*'lq.b\.bmp'"):
        dataset = PairedFolder(tmp_path, skip_bad=True)
    assert dataset.names == ["a"] and dataset.skipped_files == [tmp_path / "lq" / "b.bmp"]


def test_check_min_size(tmp_path: Path) -> None:
    _save(tmp_path / "big.png", 32, 40)
    _save(tmp_path / "small.png", 20, 40)
    folder = ImageFolder(tmp_path)
    check_min_size(folder, 20)
    with pytest.raises(DataError, match=r"image '.*small\.png' is 20x40 .*patch 24"):
        check_min_size(folder, 24)
    with pytest.raises(DataError, match="not a positive multiple of the scale 4"):
        check_min_size(folder, 18, scale=4)
    check_min_size(ImageList([torch.zeros(3, 8, 8)], ["m"]), 8)
    with pytest.raises(DataError, match="image 'm'"):
        check_min_size(ImageList([torch.zeros(3, 8, 8)], ["m"]), 9)


def test_check_min_size_paired(tmp_path: Path) -> None:
    _pairs(tmp_path, ["a"], lq_size=4, scale=2)
    paired = PairedFolder(tmp_path, scale=2)
    check_min_size(paired, 8)
    with pytest.raises(DataError, match=r"gt.a\.png' is 8x8 .*patch 10 \(lq patch 5\)"):
        check_min_size(paired, 10)
    with pytest.raises(DataError, match="differs from the paired dataset's scale 2"):
        check_min_size(paired, 8, scale=4)
