"""The basic plugin's imresize callers go through the ``imresize_bicubic`` op."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest
import torch

import restorefw.ops as ops
import restorefw_basic
from restorefw.ops import OpRegistry
from restorefw.testing import OpSpy, op_registry_with
from restorefw_basic._components import BicubicDown, KernelBlur, KernelSampler
from restorefw_basic._imresize import imresize
from restorefw_basic._ops import Imresize
from restorefw_basic._tasks import bicubic_up, sr_task


@pytest.fixture
def spy() -> OpSpy:
    return OpSpy("imresize_bicubic", imresize, dtypes=(torch.float32,))


@pytest.fixture
def spied(spy: OpSpy) -> OpRegistry:
    return op_registry_with(restorefw_basic, spy)


def _box(size: int) -> KernelSampler:
    return KernelSampler(size, lambda g: torch.full((size, size), 1 / size**2))


def test_degradations_and_the_sr_baseline_are_bit_identical_to_imresize() -> None:
    hr = torch.rand(2, 3, 24, 20, generator=torch.Generator().manual_seed(0))
    g = torch.Generator()
    assert torch.equal(BicubicDown(2)(hr, g)[0], imresize(hr, scale=0.5))
    blurred = KernelBlur(_box(3), 4, "bicubic")(hr, g)[0]
    assert torch.equal(blurred, imresize(KernelBlur(_box(3), 1, "direct")(hr, g)[0], scale=0.25))
    task = sr_task(3, None, None, True)
    assert torch.equal(task.baseline(hr), imresize(hr, scale=3))
    assert torch.equal(bicubic_up(2)(hr.double()), imresize(hr.double(), scale=2))


def test_every_caller_uses_the_chosen_override(spied: OpRegistry, spy: OpSpy) -> None:
    hr = torch.rand(1, 3, 16, 16)
    with ops.use(registry=spied):
        BicubicDown(2)(hr, torch.Generator())
        KernelBlur(_box(3), 2, "bicubic")(hr, torch.Generator())
        KernelBlur(_box(3), 2, "direct")(hr, torch.Generator())
        sr_task(2, None, None, True).baseline(hr[..., :8, :8])
        bicubic_up(2)(hr.double())  # the spy does not handle float64: the reference runs
    assert spy.calls == [(1, 3, 16, 16), (1, 3, 16, 16), (1, 3, 8, 8)]


def test_the_policy_in_force_at_construction_is_kept(spied: OpRegistry, spy: OpSpy) -> None:
    with ops.use(registry=spied):
        with ops.use("reference"):
            reference = BicubicDown(2)
        with ops.use("imresize_bicubic=spy"):
            pinned = BicubicDown(2)
        reference(torch.rand(1, 1, 8, 8), torch.Generator())
        pinned(torch.rand(1, 1, 6, 6), torch.Generator())
    assert spy.calls == [(1, 1, 6, 6)]


@pytest.mark.parametrize("clone", [pickle.loads, copy.deepcopy], ids=["pickle", "deepcopy"])
def test_copies_choose_again(clone: Any, spied: OpRegistry, spy: OpSpy) -> None:
    down = BicubicDown(2)
    with ops.use(registry=spied):
        down(torch.rand(1, 1, 8, 8), torch.Generator())
    copied = clone(pickle.dumps(down)) if clone is pickle.loads else clone(down)
    x = torch.rand(1, 3, 10, 10)
    assert torch.equal(copied(x, torch.Generator())[0], imresize(x, scale=0.5))
    assert spy.calls == [(1, 1, 8, 8)]  # the copy chose under the installed ops, not the spy's registry
    assert pickle.loads(pickle.dumps(Imresize()))(x, scale=2).shape == (1, 3, 20, 20)
