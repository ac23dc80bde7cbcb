"""Tests for evaluation test sets: layouts, their detection, name matching and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from restorefw._errors import DataError
from restorefw.data import (
    FOLDER_PAIRS,
    LAYOUTS,
    TestSet,
    detect_layout,
    find_layout,
    load_testset,
    mod_crop,
    read_image,
)
from restorefw.ops import resolve
from restorefw.testing._packs import make_sr_pack

FIXTURE = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "mzsr_official" / "Set5_g20"


def _save(path: Path, height: int = 16, width: int = 16, channels: int = 3, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(path)
    return path


def _pair(root: Path, lq: str, gt: str, names: tuple[str, ...] = ("a", "b"), lq_size: int = 16,
          gt_size: int = 16, prefixes: tuple[str, str] = ("", "")) -> Path:
    for i, name in enumerate(names):
        _save(root / lq / f"{prefixes[0]}{name}.png", lq_size, lq_size, seed=i)
        _save(root / gt / f"{prefixes[1]}{name}.png", gt_size, gt_size, seed=i + 10)
    return root


def _mzsr(root: Path, kernels: tuple[str, ...] = ("g20",), with_mat: bool = True) -> Path:
    from scipy.io import savemat

    for kernel in kernels:
        for i, name in enumerate(("baby", "bird")):
            _save(root / "Input" / kernel / "Set5" / f"{name}.png", 8, 12, seed=i)
        if with_mat:
            savemat(root / "Input" / kernel / "kernel.mat", {"kernel": np.full((3, 3), 2.0)})
    for i, name in enumerate(("baby", "bird")):
        _save(root / "GT" / "Set5" / f"{name}_GT.png", 17, 24, seed=i + 10)
    return root


def _error(excinfo: pytest.ExceptionInfo[DataError]) -> str:
    message = str(excinfo.value)
    assert "\n" not in message, "errors are one line"
    return message


@pytest.mark.parametrize("pair", FOLDER_PAIRS, ids=lambda p: f"{p.lq}+{p.gt}")
def test_every_folder_pair_is_detected_and_loaded(tmp_path: Path, pair) -> None:
    root = _pair(tmp_path / "set", pair.lq, pair.gt, prefixes=(pair.lq_prefix, pair.gt_prefix))
    assert detect_layout(root).name == "paired"
    testset = load_testset(root)
    assert (testset.layout, testset.name, testset.scale, testset.channels) == ("paired", "set", 1, 3)
    assert testset.names == ["a", "b"] and testset.paired
    assert testset.items[0].lq == root / pair.lq / f"{pair.lq_prefix}a.png"
    assert testset.items[0].gt == root / pair.gt / f"{pair.gt_prefix}a.png"
    name, lq, gt, kernel = next(testset.decoded())
    assert name == "a" and kernel is None
    assert torch.equal(lq, read_image(testset.items[0].lq)) and gt.shape == (3, 16, 16)


def test_paired_scale_is_inferred_and_checked(tmp_path: Path) -> None:
    root = _pair(tmp_path, "LR", "HR", lq_size=8, gt_size=17)
    testset = load_testset(root)
    assert testset.scale == 2 and testset.items[0].lq == root / "LR" / "a.png"
    assert [tuple(item.gt.shape) for item in testset.decoded()] == [(3, 16, 16)] * 2
    assert [tuple(item.gt.shape) for item in testset.decoded(crop_gt=False)] == [(3, 17, 17)] * 2
    with pytest.raises(DataError) as info:
        load_testset(root, scale=4)
    assert f"'{root / 'LR' / 'a.png'}' is 8x8 but '{root / 'HR' / 'a.png'}' is 17x17" in _error(info)
    assert "at scale 4 expected the input to be 4x4" in str(info.value)


def test_explicit_folders_and_layout_override_detection(tmp_path: Path) -> None:
    root = _pair(tmp_path, "degraded", "reference")
    _save(root / "top.png")
    assert detect_layout(root).name == "gt_only"
    testset = load_testset(root, "paired", lq_dir="degraded", gt_dir="reference", name="mine")
    assert testset.names == ["a", "b"] and testset.name == "mine"
    assert load_testset(root).names == ["top"]
    assert load_testset(root, "gt_only", recursive=True).names == ["degraded/a", "degraded/b", "reference/a",
                                                                   "reference/b", "top"]
    with pytest.raises(DataError, match="lq_dir and gt_dir go together"):
        load_testset(root, "paired", lq_dir="degraded")
    with pytest.raises(DataError) as info:
        load_testset(root, "paired")
    assert "looked for paired (lq/ + gt/, input/ + target/" in _error(info) and "pass lq_dir and gt_dir" in _error(info)


def test_gt_only_is_mod_cropped_to_the_scale(tmp_path: Path) -> None:
    _save(tmp_path / "cbsd" / "x.png", 20, 22)
    _save(tmp_path / "cbsd" / "y.tif", 9, 30)
    testset = load_testset(tmp_path / "cbsd", scale=3)
    assert (testset.layout, testset.names, testset.scale, testset.paired) == ("gt_only", ["x", "y"], 3, False)
    assert [(item.lq, tuple(item.gt.shape)) for item in testset.decoded()] == [(None, (3, 18, 21)),
                                                                             (None, (3, 9, 30))]
    assert load_testset(tmp_path / "cbsd").scale == 1


def test_sr_pack_from_skimage_samples(tmp_path: Path) -> None:
    root = make_sr_pack(tmp_path / "pack", ("astronaut", "coffee", "camera"), crop=48)
    assert detect_layout(root).name == "sr_pack"
    imresize = resolve("imresize_bicubic", "cpu", torch.float64)
    for scale in (2, 3, 4):
        testset = load_testset(root, scale=scale)
        assert (testset.layout, testset.scale, testset.names) == ("sr_pack", scale, ["astronaut", "camera", "coffee"])
        assert testset.items[0].lq == root / "LR_bicubic" / f"X{scale}" / f"astronautx{scale}.png"
        for _, lq, gt, _ in testset.decoded():
            assert gt.shape == (3, 48, 48) and lq.shape == (3, 48 // scale, 48 // scale)
            # The inputs are MATLAB bicubic of the 8-bit ground truth, rounded to 8 bits.
            expected = imresize(gt[None].double(), scale=1 / scale)[0].clamp(0, 1)
            assert (lq.double() - expected).abs().max() <= 0.5 / 255 + 1e-6
    with pytest.raises(DataError, match=r"holds inputs for scales x2, x3, x4; pass the scale"):
        load_testset(root)
    with pytest.raises(DataError) as info:
        load_testset(root, scale=8)
    assert f"test set '{root}' has no inputs for scale x8; it holds x2, x3, x4" == _error(info)


def test_sr_pack_styles_and_suffixes(tmp_path: Path) -> None:
    basicsr = make_sr_pack(tmp_path / "basicsr", {"a": torch.rand(3, 30, 26)}, (2, 4), style="basicsr")
    testset = load_testset(basicsr, scale=4)
    assert testset.items[0].gt == basicsr / "GTmod4" / "a.png" and testset.items[0].lq == basicsr / "LRbicx4" / "a.png"
    assert read_image(testset.items[0].gt).shape == (3, 28, 24)

    div2k = tmp_path / "div2k"
    for i, (hr_name, lr_name) in enumerate([("0801", "0801x2"), ("baby", "baby_x2"), ("bird", "bird-X2"),
                                             ("headx2", "headx2")]):
        _save(div2k / "DIV2K_valid_HR" / f"{hr_name}.png", 16, 12, seed=i)
        _save(div2k / "DIV2K_valid_LR_bicubic" / "X2" / f"{lr_name}.png", 8, 6, seed=i)
    testset = load_testset(div2k)
    assert testset.scale == 2 and testset.names == ["0801", "baby", "bird", "headx2"]
    assert [item.lq.name for item in testset.items] == ["0801x2.png", "baby_x2.png", "bird-X2.png", "headx2.png"]
    explicit = load_testset(div2k, "sr_pack", hr_dir="DIV2K_valid_HR", lr_dir="DIV2K_valid_LR_bicubic/X2")
    assert explicit.items == testset.items


def test_mzsr_layout(tmp_path: Path) -> None:
    root = _mzsr(tmp_path / "g20set")
    assert detect_layout(root).name == "mzsr"
    testset = load_testset(root)
    assert (testset.name, testset.scale, testset.names) == ("Set5_g20", 2, ["baby", "bird"])
    assert testset.items[1].gt == root / "GT" / "Set5" / "bird_GT.png"
    assert testset.items[1].kernel == root / "Input" / "g20" / "kernel.mat"
    items = list(testset.decoded())
    assert items[0].gt.shape == (3, 16, 24) and torch.allclose(items[0].kernel, torch.full((3, 3), 1 / 9))
    assert load_testset(_mzsr(tmp_path / "nomat", with_mat=False)).items[0].kernel is None

    several = _mzsr(tmp_path / "several", ("g20", "g02"))
    with pytest.raises(DataError, match=r"holds 2 folders to choose from \('g02', 'g20'\); pass kernel"):
        load_testset(several)
    assert load_testset(several, kernel="g02").name == "Set5_g02"
    with pytest.raises(DataError, match=r"no folder 'ani' in .* \(option kernel\); found 'g02', 'g20'"):
        load_testset(several, kernel="ani")


@pytest.mark.skipif(not FIXTURE.is_dir(), reason=f"the MZSR authors' test files are not at {FIXTURE}")
def test_real_mzsr_test_set() -> None:
    assert detect_layout(FIXTURE).name == "mzsr"
    testset = load_testset(FIXTURE)
    assert (testset.name, testset.scale, testset.channels) == ("Set5_g20", 2, 3)
    assert testset.names == ["baby", "bird", "butterfly", "head", "woman"]
    for name, lq, gt, kernel in testset.decoded():
        assert kernel is not None and kernel.shape == (21, 21)
        assert abs(float(kernel.double().sum()) - 1) < 1e-6
        # The authors' g^d_2.0: an isotropic Gaussian of variance 2, so its peak is 1 / (4 pi).
        assert abs(float(kernel.max()) - 1 / (4 * np.pi)) < 1e-6
        assert gt.shape == mod_crop(gt, 2).shape == (3, lq.shape[1] * 2, lq.shape[2] * 2), name


def test_empty_and_unknown_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as info:
        load_testset(tmp_path / "empty")
    message = _error(info)
    assert message.startswith(f"cannot tell the layout of test set '{tmp_path / 'empty'}': looked for mzsr")
    assert all(layout.name in message for layout in LAYOUTS)
    (tmp_path / "pairs" / "lq").mkdir(parents=True)
    _save(tmp_path / "pairs" / "gt" / "a.png")
    with pytest.raises(DataError, match=rf"image folder '{tmp_path / 'pairs' / 'lq'}' holds no images"):
        load_testset(tmp_path / "pairs")
    with pytest.raises(DataError, match="does not exist"):
        load_testset(tmp_path / "missing")


def test_unmatched_names_are_named(tmp_path: Path) -> None:
    root = _pair(tmp_path, "input", "target")
    _save(root / "input" / "c.png")
    with pytest.raises(DataError) as info:
        load_testset(root)
    assert f"1 image(s) in '{root / 'input'}' have no counterpart in '{root / 'target'}': 'c.png'" in _error(info)
    pack = make_sr_pack(tmp_path / "pack", {"a": torch.rand(3, 16, 16)}, (2,))
    _save(pack / "LR_bicubic" / "X2" / "ax3.png", 8, 8)
    with pytest.raises(DataError, match=r"'ax3\.png'; expected lq and gt files matched by name, extension and a "
                                        r"suffix 'x2' aside"):
        load_testset(pack)
    _save(pack / "LR_bicubic" / "X2" / "a.png", 8, 8)
    with pytest.raises(DataError, match=r"'.*ax2\.png' and '.*a\.png'|'.*a\.png' and '.*ax2\.png'"):
        load_testset(pack, "sr_pack")


def test_mixed_channels_name_the_file(tmp_path: Path) -> None:
    root = _pair(tmp_path, "lq", "gt")
    _save(root / "gt" / "b.png", channels=1)
    with pytest.raises(DataError) as info:
        load_testset(root)
    assert f"'{root / 'gt' / 'b.png'}' has 1 channel(s) but '{root / 'gt' / 'a.png'}' has 3" in _error(info)
    assert load_testset(root, channels=3).channels == 3
    assert all(item.gt.shape[0] == 1 for item in load_testset(root, channels=1).decoded())
    grey = _pair(tmp_path / "grey", "noisy", "clean")
    for path in grey.rglob("*.png"):
        _save(path, channels=1)
    assert load_testset(grey).channels == 1


def test_corrupt_images_name_the_file(tmp_path: Path) -> None:
    root = _pair(tmp_path, "blur", "sharp", names=("a", "b", "c"))
    (root / "sharp" / "b.png").write_bytes(b"not an image")
    with pytest.raises(DataError) as info:
        load_testset(root)
    assert f"cannot read image '{root / 'sharp' / 'b.png'}': not an image file" in _error(info)
    _save(root / "sharp" / "b.png", 64, 64)
    data = (root / "sharp" / "b.png").read_bytes()
    (root / "sharp" / "b.png").write_bytes(data[: len(data) // 2])
    _save(root / "blur" / "b.png", 64, 64)
    testset = load_testset(root)  # the header is whole; the pixels are not
    with pytest.raises(DataError, match=rf"cannot read image '{root / 'sharp' / 'b.png'}'"):
        list(testset.decoded())


def test_unknown_layouts_and_options(tmp_path: Path) -> None:
    root = _pair(tmp_path, "lq", "gt")
    with pytest.raises(DataError) as info:
        load_testset(root, "pared")
    assert _error(info) == ("unknown test-set layout 'pared' (did you mean 'paired'?); "
                            "expected one of mzsr, sr_pack, paired, gt_only")
    with pytest.raises(DataError, match=r"layout 'paired', option 'lq_dirr': Extra inputs are not permitted; "
                                        r"the layout takes name, channels, lq_dir, gt_dir"):
        load_testset(root, lq_dirr="lq")
    with pytest.raises(DataError, match=r"option 'channels'"):
        load_testset(root, channels=2)
    with pytest.raises(DataError, match="scale must be a positive integer, got 0"):
        load_testset(root, scale=0)
    assert find_layout("mzsr") is LAYOUTS[0]


def test_items_are_frozen_and_not_collected_as_tests(tmp_path: Path) -> None:
    testset = load_testset(_pair(tmp_path, "lq", "gt"))
    assert isinstance(testset, TestSet) and len(testset) == 2
    with pytest.raises(AttributeError):
        testset.scale = 2  # type: ignore[misc]
    assert TestSet.__test__ is False
