"""IPT in reduced precision on the CPU: the batched chop runs and stays within its stated tolerance.

Bounds are about three times what a tiny random model gives on 24² inputs through the chop (measured:
bf16 max 1.2e-2, mean 1.7e-3; fp16 max 1.3e-3, mean 2.2e-4), for outputs that reach about 1.
"""

from __future__ import annotations

import pytest
import torch

import restorefw

BOUNDS = {"bf16": (0.04, 5e-3), "fp16": (4e-3, 7e-4)}


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_chop_stays_within_bounds(precision_gap, precision: str) -> None:
    torch.manual_seed(0)
    model = restorefw.create("model", "ipt", n_feats=8, num_heads=2, num_layers=1, scales=[1], patch_size=12)
    worst, mean = precision_gap(model, torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1)), precision)
    assert worst <= BOUNDS[precision][0] and mean <= BOUNDS[precision][1]
