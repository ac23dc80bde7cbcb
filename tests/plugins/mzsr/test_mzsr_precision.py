"""MZSR's precisions: inference in bf16/fp16 within its stated tolerance, gradient steps declared fp32-only.

Inference bounds are about three times what a small random network gives on 24² inputs (measured: bf16
max 1.1e-2, mean 1.7e-3; fp16 max 1.3e-3, mean 2.2e-4), for outputs that reach about 1.5.
"""

from __future__ import annotations

import pytest
import torch

from restorefw.models import model_precision, precision_support
from restorefw_mzsr import MZSRNet

BOUNDS = {"bf16": (0.035, 5e-3), "fp16": (4e-3, 7e-4)}


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_inference_stays_within_bounds(precision_gap, precision: str) -> None:
    torch.manual_seed(0)
    model = MZSRNet(scale=2, channels=8, layers=3)
    worst, mean = precision_gap(model, torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1)), precision)
    assert worst <= BOUNDS[precision][0] and mean <= BOUNDS[precision][1]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_adaptation_and_training_keep_fp32(precision: str) -> None:
    model = MZSRNet(scale=2, channels=8, layers=3)
    assert model_precision(model, precision, "adaptation") == "fp32"
    assert model_precision(model, precision, "training") == "fp32"
    assert model_precision(model, precision, "inference") == precision
    assert "MZSR" in precision_support(torch.nn.Sequential(model)).note
