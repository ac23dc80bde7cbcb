"""MZSR's bicubic enlargement and son degradation go through the ``imresize_bicubic`` op."""

from __future__ import annotations

import copy

import pytest
import torch

import restorefw.ops as ops
import restorefw_basic
from restorefw.ops import OpRegistry
from restorefw.testing import OpSpy, op_registry_with
from restorefw_basic._imresize import imresize
from restorefw_basic._kernels import isotropic_gaussian_kernel
from restorefw_mzsr import adapt, make_son
from restorefw_mzsr._arch import MZSRNet


@pytest.fixture
def spy() -> OpSpy:
    return OpSpy("imresize_bicubic", imresize)


@pytest.fixture
def spied(spy: OpSpy) -> OpRegistry:
    return op_registry_with(restorefw_basic, spy)


def test_the_network_binds_the_op_and_stays_bit_identical() -> None:
    torch.manual_seed(0)
    model = MZSRNet(scale=3, channels=8, layers=3)
    assert model.bound_ops()["_imresize"].name == "reference" and model._imresize is imresize
    x = torch.rand(2, 3, 7, 9)
    assert torch.equal(model.upsample(x), imresize(x, scale=3))
    with torch.no_grad():
        assert torch.equal(model(x), model(x, upsampled=imresize(x, scale=3)))
    assert copy.deepcopy(model).double()._imresize is imresize


def test_network_and_adaptation_call_the_chosen_override(spied: OpRegistry, spy: OpSpy) -> None:
    with ops.use(registry=spied):
        model = MZSRNet(scale=2, channels=8, layers=3)
        assert model.bound_ops()["_imresize"].name == "spy"
        model(torch.rand(1, 3, 6, 5))
        assert spy.calls == [(1, 3, 6, 5)]
        lr_image, kernel = torch.rand(3, 12, 10), isotropic_gaussian_kernel(7, 1.0)
        make_son(lr_image[None], kernel, 2, "bicubic")
        make_son(lr_image[None], kernel, 2, "direct")
        adapt(model, lr_image, kernel, steps=1, downsample="bicubic")
    # make_son (bicubic only), then adapt: the son, and its enlargement to the LR size.
    assert spy.calls[1:] == [(1, 3, 12, 10), (1, 3, 12, 10), (1, 3, 6, 5)]
