"""MZSR network: parameter count, functional calls with fast weights, registry, the g^d_2.0 kernel."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

import restorefw
from restorefw.models import describe
from restorefw_basic._imresize import imresize
from restorefw_mzsr._arch import MZSRNet, count_parameters


def test_parameter_count_matches_paper() -> None:
    model = restorefw.create("model", "mzsr")
    assert count_parameters(model) == 1_792 + 6 * 36_928 + 1_731 == 225_091
    assert [name for name, _ in model.named_parameters()][:2] == ["convs.conv1.weight", "convs.conv1.bias"]
    info = describe(model)
    assert (info.scale, info.size_multiple, info.value_range, info.in_channels) == (2, 1, (0.0, 1.0), 3)


def test_forward_is_bicubic_plus_residual() -> None:
    torch.manual_seed(0)
    model = MZSRNet(scale=2, channels=8, layers=3)
    x = torch.rand(2, 3, 12, 10)
    out = model(x)
    assert out.shape == (2, 3, 24, 20)
    up = imresize(x, scale=2)
    torch.testing.assert_close(out, up + model.residual(up))
    torch.testing.assert_close(model(x, upsampled=up), out)
    # A zero last layer makes the network exactly MATLAB bicubic.
    last = model.convs["conv3"]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    torch.testing.assert_close(model(x), up)


def test_functional_call_with_own_params_equals_forward() -> None:
    torch.manual_seed(1)
    model = MZSRNet(scale=2)
    x = torch.rand(1, 3, 16, 16)
    params = dict(model.named_parameters())
    torch.testing.assert_close(functional_call(model, params, (x,)), model(x))
    shifted = {k: v + 0.01 for k, v in params.items()}
    assert not torch.allclose(functional_call(model, shifted, (x,)), model(x))
    # The module's own weights are back in place after the call.
    assert all(p is params[n] for n, p in model.named_parameters())


def test_init_is_variance_scaling() -> None:
    model = MZSRNet(scale=2)
    weight = model.convs["conv4"].weight.detach()
    assert float(weight.std()) == pytest.approx(math.sqrt(1 / (64 * 9)), rel=0.05)
    assert all(float(c.bias.detach().abs().max()) == 0 for c in model.convs.values())


def test_gd20_kernel_is_isotropic_gaussian_of_variance_2() -> None:
    kernel = restorefw.create("kernel", "fixed_gaussian", variance=2.0, size=15)(torch.Generator())
    r = torch.arange(15, dtype=torch.float64) - 7
    expected = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 2.0))
    torch.testing.assert_close(kernel.double(), expected / expected.sum(), rtol=1e-6, atol=1e-9)
    # The official 21x21 kernel.mat has peak 1 / (4 pi), the continuous Gaussian's.
    big = restorefw.create("kernel", "fixed_gaussian", variance=2.0, size=21)(torch.Generator())
    assert float(big.max()) == pytest.approx(1 / (4 * math.pi), abs=2e-4)
