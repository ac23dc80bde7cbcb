"""Tests for reading and writing image files."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from restorefw._errors import DataError
from restorefw.data import image_shape, image_size, read_image, write_image
from restorefw.data._decode import decode

Png16 = Callable[[Path, np.ndarray], Path]


def _rgb(height: int = 6, width: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _expected(pixels: np.ndarray, levels: int = 255) -> torch.Tensor:
    return torch.from_numpy(pixels.astype(np.float32).transpose(2, 0, 1) / levels)


def test_rgb_8bit_reads_exactly(tmp_path: Path) -> None:
    pixels = _rgb()
    Image.fromarray(pixels).save(tmp_path / "a.png")
    image = read_image(tmp_path / "a.png")
    assert image.dtype == torch.float32 and image.shape == (3, 6, 5)
    assert torch.equal(image, _expected(pixels))


def test_grey_is_replicated_or_kept_single(tmp_path: Path) -> None:
    pixels = _rgb()[..., 0]
    Image.fromarray(pixels).save(tmp_path / "g.png")
    rgb = read_image(tmp_path / "g.png")
    grey = read_image(tmp_path / "g.png", channels=1)
    assert grey.shape == (1, 6, 5)
    assert torch.equal(grey[0], torch.from_numpy(pixels / np.float32(255)))
    assert torch.equal(rgb, grey.expand(3, -1, -1))


def test_rgb_to_one_channel_is_luma(tmp_path: Path) -> None:
    pixels = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    Image.fromarray(pixels).save(tmp_path / "c.png")
    grey = read_image(tmp_path / "c.png", channels=1)
    assert torch.allclose(grey[0, 0], torch.tensor([0.299, 0.587, 0.114, 1.0]), atol=1e-6)
    assert grey.max() <= 1.0


def test_alpha_is_dropped_not_composited(tmp_path: Path) -> None:
    pixels = np.zeros((2, 2, 4), np.uint8)
    pixels[..., :3] = 200
    pixels[0, 0, 3] = 0  # fully transparent, yet its colour is kept
    pixels[1, 1, 3] = 255
    Image.fromarray(pixels).save(tmp_path / "rgba.png")
    Image.fromarray(pixels[..., [0, 3]]).save(tmp_path / "la.png")
    assert torch.all(read_image(tmp_path / "rgba.png") == 200 / 255)
    assert torch.all(read_image(tmp_path / "la.png") == 200 / 255)


def test_palette_with_transparency(tmp_path: Path) -> None:
    image = Image.new("P", (3, 1))
    image.putpalette([10, 20, 30, 255, 0, 0, 0, 255, 0])
    image.putdata([0, 1, 2])
    image.save(tmp_path / "p.png", transparency=bytes([0, 128, 255]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pixels = read_image(tmp_path / "p.png")
    expected = torch.tensor([[10, 255, 0], [20, 0, 255], [30, 0, 0]]) / 255
    assert torch.equal(pixels[:, 0, :], expected.float())


def test_one_bit_and_cmyk(tmp_path: Path) -> None:
    Image.fromarray(np.array([[True, False]])).save(tmp_path / "b.png")
    assert read_image(tmp_path / "b.png", channels=1).flatten().tolist() == [1.0, 0.0]
    cmyk = Image.new("CMYK", (2, 1))
    cmyk.putdata([(0, 0, 0, 0), (0, 0, 0, 255)])
    cmyk.save(tmp_path / "k.tif")
    assert read_image(tmp_path / "k.tif")[:, 0].T.tolist() == [[1.0] * 3, [0.0] * 3]


def test_16bit_grey(tmp_path: Path, write_png16: Png16) -> None:
    values = np.array([[0, 1, 32768, 65535]], np.uint16)
    Image.fromarray(values).save(tmp_path / "pillow.png")  # Pillow writes mode I;16
    write_png16(tmp_path / "raw.png", values)
    for name in ("pillow.png", "raw.png"):
        image = read_image(tmp_path / name, channels=1)
        assert torch.equal(image[0, 0], torch.tensor([0.0, 1, 32768, 65535]) / 65535)
        assert image[0, 0, 3] == 1.0 and abs(float(image[0, 0, 2]) - 0.5) < 1e-4


def test_32bit_integer_mode(tmp_path: Path) -> None:
    Image.fromarray(np.array([[0, 65535]], np.int32)).save(tmp_path / "i.tif")
    assert read_image(tmp_path / "i.tif", channels=1).flatten().tolist() == [0.0, 1.0]
    Image.fromarray(np.array([[0, 70000]], np.int32)).save(tmp_path / "big.tif")
    with pytest.raises(DataError, match=r"big\.tif.*16-bit"):
        read_image(tmp_path / "big.tif")


@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_colour_keeps_full_precision(
    tmp_path: Path, write_png16: Png16, channels: int
) -> None:
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 65536, (5, 7, channels), dtype=np.uint16)
    pixels[0, 0, :3] = [0, 32768, 65535]
    pixels[0, 1, :3] = [1, 255, 257]  # differ from their neighbours only in the low byte
    image = read_image(write_png16(tmp_path / "c16.png", pixels))
    assert torch.equal(image, _expected(pixels[..., :3], 65535))
    assert image[:, 0, 0].tolist() == [0.0, pytest.approx(0.5, abs=1e-4), 1.0]


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_16bit_colour_tiff_keeps_full_precision(tmp_path: Path, compression: str | None) -> None:
    tifffile = pytest.importorskip("tifffile")
    pixels = np.random.default_rng(0).integers(0, 65536, (4, 6, 3), dtype=np.uint16)
    pixels[0, 0] = [1, 255, 257]
    tifffile.imwrite(tmp_path / "c16.tif", pixels, photometric="rgb", compression=compression)
    assert torch.equal(read_image(tmp_path / "c16.tif"), _expected(pixels, 65535))


def test_16bit_grey_with_alpha(tmp_path: Path, write_png16: Png16) -> None:
    pixels = np.array([[[0, 65535], [32769, 0], [65535, 7]]], np.uint16)
    image = read_image(write_png16(tmp_path / "la16.png", pixels), channels=1)
    assert torch.equal(image[0, 0], torch.tensor([0.0, 32769, 65535]) / 65535)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = _rgb(2, 3)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    Image.fromarray(pixels).save(tmp_path / "o.png", exif=exif)
    image = read_image(tmp_path / "o.png")
    assert image_size(tmp_path / "o.png") == (3, 2) == tuple(image.shape[1:])
    assert torch.equal(image, _expected(np.ascontiguousarray(np.rot90(pixels, k=-1))))


def test_image_shape_gives_the_channels_decoding_keeps(tmp_path: Path, write_png16: Png16) -> None:
    rgb = Image.fromarray(_rgb(4, 7))
    files = {
        "rgb.png": rgb, "rgba.png": rgb.convert("RGBA"), "grey.png": rgb.convert("L"),
        "grey_alpha.png": rgb.convert("LA"), "bits.png": rgb.convert("1"), "palette.png": rgb.convert("P"),
        "cmyk.jpg": rgb.convert("CMYK"), "grey.tif": rgb.convert("I;16"),
    }
    for name, im in files.items():
        im.save(tmp_path / name)
    write_png16(tmp_path / "la16.png", np.zeros((4, 7, 2), np.uint16))
    write_png16(tmp_path / "rgb16.png", np.zeros((4, 7, 3), np.uint16))
    expected_grey = {"grey.png", "grey_alpha.png", "bits.png", "grey.tif", "la16.png"}
    for path in sorted(tmp_path.iterdir()):
        channels = 1 if decode(path).ndim == 2 else 3
        assert image_shape(path) == (channels, 4, 7), path.name
        assert (channels == 1) == (path.name in expected_grey), path.name
    with pytest.raises(DataError, match=r"'.*missing\.png'.*no such file"):
        image_shape(tmp_path / "missing.png")


def test_truncated_png(tmp_path: Path) -> None:
    Image.fromarray(_rgb(64, 64)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cannot read image '.*cut\.png'"):
        read_image(tmp_path / "cut.png")


@pytest.mark.parametrize(
    ("name", "reason"),
    [("text.png", "not an image"), ("missing.png", "no such file"), ("folder.png", "folder")],
)
def test_unreadable_paths(tmp_path: Path, name: str, reason: str) -> None:
    (tmp_path / "text.png").write_text("not pixels")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(DataError, match=rf"'.*{name}'.*{reason}"):
        read_image(tmp_path / name)
    if name != "folder.png":
        with pytest.raises(DataError, match=name):
            image_size(tmp_path / name)


def test_bad_channel_count(tmp_path: Path) -> None:
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    with pytest.raises(DataError, match=r"a\.png.*channels must be 1 or 3"):
        read_image(tmp_path / "a.png", channels=2)


def test_write_8bit_round_trip(tmp_path: Path) -> None:
    image = torch.rand(3, 9, 11, generator=torch.Generator().manual_seed(0))
    write_image(tmp_path / "deep" / "er" / "x.png", image[None])
    quantised = (image * 255).round() / 255
    assert torch.equal(read_image(tmp_path / "deep" / "er" / "x.png"), quantised)
    write_image(tmp_path / "g.png", image[:1])
    assert torch.equal(read_image(tmp_path / "g.png", channels=1), quantised[:1])


def test_write_clamps_and_16bit_round_trip(tmp_path: Path) -> None:
    image = torch.tensor([[[-0.5, 0.0, 0.25, 1.0, 1.5]]]).expand(3, 1, 5)
    write_image(tmp_path / "c.png", image)
    assert torch.equal(read_image(tmp_path / "c.png")[0, 0], torch.tensor([0, 0, 64, 255, 255]) / 255)
    levels = torch.randint(0, 65536, (3, 4, 6), generator=torch.Generator().manual_seed(1))
    write_image(tmp_path / "c16.png", levels / 65535, bit_depth=16)
    assert torch.equal(read_image(tmp_path / "c16.png"), (levels / 65535).float())
    write_image(tmp_path / "g16.png", levels[:1] / 65535, bit_depth=16)
    with Image.open(tmp_path / "g16.png") as grey:
        assert grey.mode == "I;16"
        assert np.array_equal(np.asarray(grey), levels[0].numpy())


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_image(tmp_path / "x.png", torch.zeros(3, 2, 2))
    write_image(tmp_path / "x.png", torch.ones(3, 2, 2))
    assert os.listdir(tmp_path) == ["x.png"]
    assert torch.all(read_image(tmp_path / "x.png") == 1)

    def fail(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(DataError, match=r"cannot write image '.*x\.png': No space left"):
        write_image(tmp_path / "x.png", torch.zeros(3, 2, 2))
    assert os.listdir(tmp_path) == ["x.png"]
    monkeypatch.undo()
    assert torch.all(read_image(tmp_path / "x.png") == 1)


@pytest.mark.parametrize(
    ("name", "image", "bit_depth", "reason"),
    [
        ("x.jpg", torch.zeros(3, 2, 2), 8, r"\.png"),
        ("x.png", torch.zeros(3, 2, 2), 12, "bit_depth"),
        ("x.png", torch.zeros(5, 2, 2), 8, r"shape \(5, 2, 2\)"),
        ("x.png", torch.zeros(2, 3, 2, 2), 8, "shape"),
        ("x.png", torch.full((3, 2, 2), float("nan")), 8, "NaN"),
    ],
)
def test_write_rejects_bad_input(
    tmp_path: Path, name: str, image: torch.Tensor, bit_depth: int, reason: str
) -> None:
    with pytest.raises(DataError, match=rf"cannot write image '.*{name}'.*{reason}"):
        write_image(tmp_path / name, image, bit_depth=bit_depth)
    assert os.listdir(tmp_path) == []
