"""Shared fixtures: a registry of the installed plugins, built once per session; precision gaps."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

import restorefw


@pytest.fixture(scope="session")
def registry() -> restorefw.Registry:
    """Registry of every installed plugin (first-party ones included)."""
    return restorefw.build_registry(restorefw.get_plugin_manager())


@pytest.fixture(scope="session")
def precision_gap() -> Callable[[nn.Module, Tensor, str], tuple[float, float]]:
    """``gap(model, x, precision)``: max and mean ``|model(x) under autocast - model(x) in fp32|`` on the CPU.

    The model runs in eval mode without autograd, as restoration and evaluation run it.
    """
    from restorefw.engine import autocast

    def gap(model: nn.Module, x: Tensor, precision: str) -> tuple[float, float]:
        model.eval()
        with torch.inference_mode():
            expected = model(x)
            with autocast(torch.device("cpu"), precision):
                out = model(x)
        assert torch.isfinite(out).all()
        diff = (out.float() - expected).abs()
        return diff.max().item(), diff.mean().item()

    return gap
