"""``restorefw eval`` of the MZSR authors' network on their Set5_g20 meta-test files, by their protocol.

The files are read in place from ``../shared/fixtures/mzsr_official`` (the test skips without them).
Adapting on all five images takes about a minute on two CPU cores, so this test scores the smallest
one (``butterfly``, a 128x128 input) through a folder of links in MZSR's layout; docs/mzsr.md has the
whole set.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from restorefw._builder import convert_checkpoint, load_model
from restorefw.data import read_image
from restorefw.engine import EvalRequest, SetRequest, restore_image, run_eval

FIXTURES = (Path(__file__).parents[3] / ".." / "shared" / "fixtures" / "mzsr_official").resolve()
pytestmark = pytest.mark.skipif(not (FIXTURES / "Set5_g20").is_dir() or not (FIXTURES / "checkpoint").is_dir(),
                                reason=f"the MZSR authors' files are not at {FIXTURES} (../shared/fixtures beside "
                                       "the repository)")


def _linked_set(root: Path, names: list[str]) -> Path:
    """A folder in MZSR's layout whose files are links to the authors' own."""
    source = FIXTURES / "Set5_g20"
    for folder in ("Input/g20/Set5", "GT/Set5"):
        (root / folder).mkdir(parents=True)
    (root / "Input/g20/kernel.mat").symlink_to(source / "Input/g20/kernel.mat")
    for name in names:
        (root / "Input/g20/Set5" / f"{name}.png").symlink_to(source / "Input/g20/Set5" / f"{name}.png")
        (root / "GT/Set5" / f"{name}_GT.png").symlink_to(source / "GT/Set5" / f"{name}_GT.png")
    return root


def _authors_psnr(sr: torch.Tensor, gt: torch.Tensor, scale: int) -> float:
    """MZSR's test.py score, in numpy as they wrote it: uint8 images, rounded rgb2y, shave, float32 PSNR."""

    def rgb2y(image: np.ndarray) -> np.ndarray:
        x = np.float64(image)
        return np.round(65.481 / 255. * x[:, :, 0] + 128.553 / 255. * x[:, :, 1] + 24.966 / 255. * x[:, :, 2]
                        + 16).astype(np.uint8)

    def uint8(image: torch.Tensor) -> np.ndarray:
        return np.round(np.clip(image.permute(1, 2, 0).double().numpy() * 255., 0., 255.)).astype(np.uint8)

    a = np.float32(rgb2y(uint8(gt))[scale:-scale, scale:-scale])
    b = np.float32(rgb2y(uint8(sr))[scale:-scale, scale:-scale])
    return 20 * math.log10(255.0 / math.sqrt(np.mean((a - b) ** 2)))


def test_mzsr_zero_shot_on_set5_g20_by_the_authors_protocol(registry, tmp_path):
    weights = tmp_path / "mzsr.safetensors"
    convert_checkpoint(FIXTURES / "checkpoint", weights, registry)
    testset = _linked_set(tmp_path / "Set5_g20", ["butterfly"])
    outcome = run_eval(EvalRequest(models=(weights,), sets=(SetRequest(str(testset)),), out=tmp_path / "ev",
                                   quiet=True), registry)
    summary = outcome.summary
    assert summary["sets"][0]["layout"] == "mzsr" and summary["sets"][0]["protocol"]["name"] == "mzsr"
    rows = {r["name"]: r["scores"]["Set5_g20 x2"] for r in summary["rows"]}
    assert list(rows) == ["bicubic", "mzsr (0 steps)", "mzsr (1 step)", "mzsr (10 steps)"]
    # Step 0 is the authors' quick_test: the same numbers from their own arithmetic.
    model, _ = load_model(weights, registry)
    lq = read_image(testset / "Input/g20/Set5/butterfly.png")[None]
    gt = read_image(testset / "GT/Set5/butterfly_GT.png")
    sr = restore_image(model, lq, torch.device("cpu"))[0]
    assert rows["mzsr (0 steps)"]["psnr"] == pytest.approx(_authors_psnr(sr, gt, 2), abs=1e-4)
    # Measured with these weights (docs/mzsr.md): the bicubic-pretrained start gains little from adapting.
    assert rows["bicubic"]["psnr"] == pytest.approx(22.6653, abs=1e-3)
    assert rows["mzsr (0 steps)"]["psnr"] == pytest.approx(23.1813, abs=1e-3)
    assert rows["mzsr (0 steps)"]["psnr"] < rows["mzsr (1 step)"]["psnr"] < rows["mzsr (10 steps)"]["psnr"]
    assert rows["mzsr (10 steps)"]["psnr"] == pytest.approx(23.2278, abs=2e-3)
