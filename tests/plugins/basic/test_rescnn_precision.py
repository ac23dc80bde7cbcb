"""The basic CNN in reduced precision on the CPU stays within its stated tolerance.

Bounds are about three times what a small random model gives on 24² inputs (measured: bf16 max 4.7e-3,
mean 1.0e-3; fp16 max 7.1e-4, mean 1.9e-4), for outputs whose residual reaches about 0.9.
"""

from __future__ import annotations

import pytest
import torch

import restorefw

BOUNDS = {"bf16": (0.015, 3e-3), "fp16": (2.5e-3, 6e-4)}


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_forward_stays_within_bounds(precision_gap, precision: str) -> None:
    torch.manual_seed(0)
    model = restorefw.create("model", "rescnn", channels=8, blocks=2)
    with torch.no_grad():  # the tail starts at zero: give the residual branch something to say
        for p in model.tail.parameters():
            p.normal_(0, 0.05)
    worst, mean = precision_gap(model, torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1)), precision)
    assert worst <= BOUNDS[precision][0] and mean <= BOUNDS[precision][1]
