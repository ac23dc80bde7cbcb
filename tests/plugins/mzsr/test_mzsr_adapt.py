"""Zero-shot adaptation: I_son, one SGD step, the public adapt / zero_shot_sr API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import restorefw
from restorefw_basic._degrade import blur
from restorefw_basic._kernels import isotropic_gaussian_kernel
from restorefw_mzsr import adapt, make_son, zero_shot_sr
from restorefw_mzsr._arch import MZSRNet


def _setup() -> tuple[MZSRNet, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = MZSRNet(scale=2, channels=8, layers=3)
    lr_image = torch.rand(3, 24, 22, generator=torch.Generator().manual_seed(2))
    return model, lr_image, isotropic_gaussian_kernel(15, 2.0)


def _son_loss(model: torch.nn.Module, lr_image: torch.Tensor, kernel: torch.Tensor) -> float:
    son = make_son(lr_image[None], kernel, 2, "direct")
    with torch.no_grad():
        return float(F.l1_loss(model(son)[..., :24, :22], lr_image[None]))


def test_son_is_blur_then_direct_subsampling() -> None:
    _, lr_image, kernel = _setup()
    son = make_son(lr_image[None], kernel, 2, "direct")
    torch.testing.assert_close(son, blur(lr_image[None], kernel)[..., ::2, ::2])
    assert make_son(lr_image[None], kernel, 2, "bicubic").shape == (1, 3, 12, 11)


def test_one_step_changes_output_and_lowers_son_loss() -> None:
    model, lr_image, kernel = _setup()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adapted = adapt(model, lr_image, kernel, steps=1, lr=0.05)
    assert adapted is not model
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the input model is untouched
    with torch.no_grad():
        assert not torch.allclose(adapted(lr_image[None]), model(lr_image[None]))
    assert _son_loss(adapted, lr_image, kernel) < _son_loss(model, lr_image, kernel)
    zero = adapt(model, lr_image, kernel, steps=0)
    with torch.no_grad():
        torch.testing.assert_close(zero(lr_image[None]), model(lr_image[None]))


def test_zero_shot_sr_takes_a_kernel_file(tmp_path: Path) -> None:
    model, lr_image, kernel = _setup()
    path = tmp_path / "k.npy"
    np.save(path, (kernel * 7).numpy())  # files need not be normalised
    out = zero_shot_sr(model, lr_image, path, steps=2, lr=[0.02, 0.01])
    assert out.shape == (1, 3, 48, 44) and 0 <= float(out.min()) and float(out.max()) <= 1
    expected = zero_shot_sr(model, lr_image, kernel, steps=2, lr=[0.02, 0.01])
    torch.testing.assert_close(out, expected)


def test_restore_command_adapts_per_image(tmp_path) -> None:
    import numpy as np
    from click.testing import CliRunner

    from restorefw.cli import cli
    from restorefw.data import write_image
    from restorefw.weights import save_weights

    torch.manual_seed(0)
    spec = {"type": "mzsr", "scale": 2, "channels": 8}
    model = restorefw.create("model", spec)
    save_weights(tmp_path / "mzsr.safetensors", model.state_dict(), {"model": spec})
    write_image(tmp_path / "lr.png", torch.rand(3, 21, 30))
    np.save(tmp_path / "k.npy", restorefw.create("kernel", "fixed_gaussian", size=15, variance=2.0)(None).numpy())
    result = CliRunner().invoke(cli, ["restore", "--checkpoint", str(tmp_path / "mzsr.safetensors"),
                                      str(tmp_path / "lr.png"), "--out", str(tmp_path / "out"),
                                      "--adapt-steps", "2", "--kernel", str(tmp_path / "k.npy"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "(60x42)" in result.output
