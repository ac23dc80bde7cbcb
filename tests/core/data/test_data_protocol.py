"""Tests for the evaluation protocols and their helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from restorefw._errors import ConfigError, DataError
from restorefw.data import PROTOCOLS, EvalProtocol, get_protocol, mod_crop, protocol_from_spec, quantize_8bit


def test_mod_crop_keeps_the_top_left_multiple() -> None:
    img = torch.arange(2 * 7 * 10, dtype=torch.float32).reshape(1, 2, 7, 10)
    cropped = mod_crop(img, 3)
    assert cropped.shape == (1, 2, 6, 9) and torch.equal(cropped, img[..., :6, :9])
    assert cropped.data_ptr() == img.data_ptr()
    assert mod_crop(img, 1).shape == img.shape
    for scale in (0, 8):
        with pytest.raises(DataError, match=f"cannot crop a 7x10 image .* to a multiple of {scale}"):
            mod_crop(img, scale)


def test_quantize_8bit_matches_rounded_uint8() -> None:
    x = torch.rand(2, 3, 5, 5, generator=torch.Generator().manual_seed(0)) * 1.2 - 0.1
    expected = np.rint(np.clip(x.numpy().astype(np.float64), 0, 1) * 255) / 255
    assert np.allclose(quantize_8bit(x).numpy(), expected, atol=1e-7)
    # Halves go to even levels, as numpy's rint and img_as_ubyte do.
    assert quantize_8bit(torch.tensor([0.5 / 255, 1.5 / 255], dtype=torch.float64)).mul(255).tolist() == [0, 2]


def test_named_protocols() -> None:
    assert set(PROTOCOLS) == {"sr", "restore", "sr_ipt", "mzsr", "denoise_restormer", "derain_restormer",
                              "denoise_ipt", "derain_ipt"}
    sr = get_protocol("sr")
    assert (sr.y_channel, sr.round_y, sr.crop_border, sr.gt_mod_crop, sr.round_8bit) == (True, False, "scale", True,
                                                                                         True)
    assert sr.border(4) == 4 and get_protocol("denoise_restormer").border(4) == 0
    mzsr = get_protocol("mzsr")
    assert mzsr.adaptation_steps == (0, 1, 10) and mzsr.round_y and mzsr.border(2) == 2
    # test.py, method 0 (Directx2): 2e-2 for step 0, 1e-2 for steps 1-3, then 5e-3; direct subsampling.
    assert mzsr.adaptation_lr == (2e-2, 1e-2, 1e-2, 1e-2, 5e-3) and mzsr.adaptation_downsample == "direct"
    restore = get_protocol("restore")
    assert (restore.y_channel, restore.border(4), restore.round_8bit, restore.metrics) == (False, 0, True,
                                                                                          ("psnr", "ssim"))
    denoise = get_protocol("denoise_restormer")
    assert (denoise.y_channel, denoise.metrics, denoise.pad_multiple, denoise.clip_lq) == (False, ("psnr",), 8, False)
    assert get_protocol("derain_restormer").round_y and get_protocol("derain_restormer").y_channel
    ipt = get_protocol("denoise_ipt")
    assert (ipt.y_channel, ipt.tiling, ipt.seed, ipt.clip_lq) == (True, "chop", 1, True)
    assert all(p.source for p in PROTOCOLS.values())


def test_overrides_copy_and_validate() -> None:
    sr = get_protocol("sr")
    changed = sr.with_overrides({"crop_border": 0, "self_ensemble": True, "adaptation_steps": [0, 5]})
    assert (changed.crop_border, changed.self_ensemble, changed.adaptation_steps) == (0, True, (0, 5))
    assert sr.crop_border == "scale" and get_protocol("sr") == sr
    assert get_protocol("sr", {"y_channel": False}).y_channel is False
    with pytest.raises(ValidationError):
        sr.y_channel = False  # type: ignore[misc]
    with pytest.raises(ConfigError) as info:
        sr.with_overrides({"crop_bordr": 0})
    assert info.value.path == "protocol.crop_bordr" and "(did you mean 'crop_border'?)" in str(info.value)
    for key, value, message in [("crop_border", -1, "greater than or equal to 0"), ("y_channel", 1, "valid boolean"),
                                ("tiling", "tiles", "'none', 'chop' or 'exact'")]:
        with pytest.raises(ConfigError, match=message) as info:
            sr.with_overrides({key: value})
        assert info.value.path == f"protocol.{key}"
    with pytest.raises(ConfigError, match=r"unknown protocol 'sr_ip' \(did you mean 'sr_ipt'\?\)"):
        get_protocol("sr_ip")
    assert EvalProtocol(name="mine", source="here").crop_border == 0


def test_protocol_from_spec() -> None:
    assert protocol_from_spec("sr") == get_protocol("sr")
    assert protocol_from_spec({"name": "sr", "crop_border": 0, "adaptation_lr": [1e-3]}).adaptation_lr == (1e-3,)
    with pytest.raises(ConfigError) as info:
        protocol_from_spec({"crop_border": 0})
    assert info.value.path == "protocol.name"
    with pytest.raises(ConfigError) as info:
        protocol_from_spec({"name": "mzsr", "adaptation_lr": [0.0]})
    assert info.value.path == "protocol.adaptation_lr"
