"""``restorefw eval`` of the MZSR authors' network on their Set5_g20 meta-test files, by their protocol.

The files are read in place from ``../shared/fixtures/mzsr_official`` (the tests skip without them).
One test checks the scores of the smallest image (``butterfly``, a 128x128 input, through a folder of
links in MZSR's layout) against the authors' own arithmetic; the other scores the whole set (about
20 s on two CPU cores) against the table in docs/mzsr.md.
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


@pytest.mark.slow
def test_mzsr_on_the_whole_set5_g20_gives_the_documented_table(registry, tmp_path):
    """docs/mzsr.md's means, from the authors' own files in place (about a minute on two cores)."""
    weights = tmp_path / "mzsr.safetensors"
    convert_checkpoint(FIXTURES / "checkpoint", weights, registry)
    outcome = run_eval(EvalRequest(models=(weights,), sets=(SetRequest(str(FIXTURES / "Set5_g20")),),
                                   out=tmp_path / "ev", quiet=True), registry)
    summary = outcome.summary
    assert summary["sets"][0]["images"] == 5
    rows = {r["name"]: r["scores"]["Set5_g20 x2"] for r in summary["rows"]}
    documented = {"bicubic": (28.7297, 0.8448), "mzsr (0 steps)": (29.1360, 0.8594),
                  "mzsr (1 step)": (29.1421, 0.8596), "mzsr (10 steps)": (29.1624, 0.8602)}
    for name, (psnr, ssim) in documented.items():
        assert rows[name]["psnr"] == pytest.approx(psnr, abs=1e-4), name
        assert rows[name]["ssim"] == pytest.approx(ssim, abs=1e-4), name
