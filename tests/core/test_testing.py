"""The conformance kit: fresh registries, fakes, broken components caught, first-party components passing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

import restorefw
from restorefw import testing as kit
from restorefw.testing import (
    ContractError,
    FakeDegradation,
    FakeKernel,
    FakeLoss,
    FakeMetric,
    FakeModel,
    FakePlugin,
    check_degradation,
    check_kernel,
    check_loss,
    check_metric,
    check_model,
    check_task,
    plugin_manager,
    registry_with,
)

TINY_RESTORMER = {"dim": 8, "num_blocks": [1, 1, 1, 1], "heads": [1, 1, 2, 2], "num_refinement_blocks": 1}


def test_all_is_sorted_and_complete() -> None:
    assert kit.__all__ == sorted(kit.__all__)
    assert all(getattr(kit, name) is not None for name in kit.__all__)


def test_registry_with_holds_only_the_core_and_the_given_plugins() -> None:
    registry = registry_with(FakePlugin())
    assert {e.plugin for e in registry} == {"core", "fake"}
    assert ("optimizer", "adam") in registry and ("model", "fake") in registry
    assert ("metric", "psnr") not in registry


def test_plugin_manager_accepts_modules_named_pairs_and_entry_points() -> None:
    import restorefw_basic

    pm = plugin_manager(restorefw_basic, ("doubles", FakePlugin()))
    assert set(pm.info) == {"core", "restorefw_basic", "doubles"}
    installed = plugin_manager(load_entrypoints=True)
    assert "basic" in installed.info


def test_plugin_manager_is_strict_by_default() -> None:
    class Broken:
        @restorefw.hookimpl
        def register_models(self, register: Any) -> None:
            raise RuntimeError("boom")

    with pytest.raises(restorefw.PluginError, match="boom"):
        registry_with(Broken())
    pm = plugin_manager(Broken(), strict=False)
    restorefw.build_registry(pm)
    assert [f.name for f in pm.failures] == ["Broken"]


@pytest.fixture(scope="module")
def fakes() -> restorefw.Registry:
    return registry_with(FakePlugin())


def test_fakes_pass_their_own_checks(fakes: restorefw.Registry) -> None:
    assert isinstance(check_degradation(fakes, "fake", scale=2), FakeDegradation)
    assert isinstance(check_kernel(fakes, "fake", size=7), FakeKernel)
    assert isinstance(check_model(fakes, "fake", scale=2), FakeModel)
    assert isinstance(check_metric(fakes, "fake_mae"), FakeMetric)
    assert isinstance(check_loss(fakes, "fake"), FakeLoss)
    assert check_task(fakes, "fake", degradation={"type": "fake", "scale": 3}).scale == 3


def test_device_code_path(fakes: restorefw.Registry) -> None:
    # "cpu:0" takes the branch that moves inputs and models to another device, without a GPU.
    devices = ["cpu", "cpu:0"]
    check_degradation(fakes, "fake", devices=devices)
    check_model(fakes, "fake", scale=2, devices=devices)
    check_metric(fakes, "fake_mae", devices=devices)
    check_loss(fakes, "fake", devices=devices)
    assert kit.available_devices() == (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])


def test_checks_accept_an_entry_and_a_spec_table(fakes: restorefw.Registry) -> None:
    assert check_kernel(fakes.get("kernel", "fake"), size=3).size == 3
    assert check_kernel(fakes, {"type": "fake", "size": 4}).size == 4
    with pytest.raises(TypeError, match="given to the degradation check"):
        check_degradation(fakes.get("kernel", "fake"))


def test_unknown_name_and_rejected_params_are_reported(fakes: restorefw.Registry) -> None:
    with pytest.raises(ContractError, match=r"degradation 'fak'.*did you mean 'fake'"):
        check_degradation(fakes, "fak")
    with pytest.raises(ContractError, match=r"kernel 'fake'.*parameters rejected.*size"):
        check_kernel(fakes, "fake", size=0)


# --------------------------------------------------------------------------- broken components


def _global_rng(hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    return (hr + 0.1 * torch.rand(hr.shape)).clamp(0, 1), hr


def _fixed_seed(hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    noise = torch.rand(hr.shape, generator=torch.Generator().manual_seed(0), dtype=hr.dtype)
    return (hr + 0.1 * noise).clamp(0, 1), hr


def _in_place(hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    return hr.mul_(0.5), hr


def _float32(hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    lq, target = FakeDegradation()(hr, generator)
    return lq.float(), target.float()


def _lq_only(hr: Tensor, generator: torch.Generator) -> Tensor:
    return FakeDegradation()(hr, generator)[0]


def _wrong_scale(hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    return FakeDegradation()(hr, generator)


_wrong_scale.scale = 2  # type: ignore[attr-defined]


BROKEN_DEGRADATIONS = [
    (_global_rng, "same generator seed gave different outputs"),
    (_fixed_seed, "ignores the generator"),
    (_in_place, "modified its input hr in place"),
    (_float32, "float64 input gave torch.float32"),
    (_lq_only, r"must return a \(lq, target\) tuple"),
    (_wrong_scale, r"lq has shape \(2, 3, 48, 48\), expected \(2, 3, 24, 24\)"),
]


@pytest.mark.parametrize(("factory", "message"), BROKEN_DEGRADATIONS, ids=[f.__name__ for f, _ in BROKEN_DEGRADATIONS])
def test_broken_degradations_are_caught(factory: Any, message: str) -> None:
    registry = restorefw.Registry()
    registry.register("degradation", "broken", lambda: factory)
    with pytest.raises(ContractError, match=rf"^degradation 'broken': .*{message}"):
        check_degradation(registry, "broken")


def _kernel(draw: Any, size: int = 5) -> Any:
    sampler = lambda g: draw(g, size)  # noqa: E731 - a one-line sampler
    sampler.size = size  # type: ignore[attr-defined]
    return sampler


BROKEN_KERNELS = {
    "unnormalised": (_kernel(lambda g, k: torch.rand((k, k), generator=g)), "sums to"),
    "negative": (_kernel(lambda g, k: FakeKernel(k)(g) * 2 - 1 / k**2), "negative values"),
    "wrong_size": (_kernel(lambda g, k: FakeKernel(k + 2)(g)), r"shape \(7, 7\), expected \(5, 5\)"),
    "global_rng": (_kernel(lambda g, k: FakeKernel(k)(torch.Generator().manual_seed(int(torch.randint(9, ()))))),
                   "same generator"),
    "no_size": (lambda g: FakeKernel(5)(g), "needs an int attribute 'size'"),
}


@pytest.mark.parametrize(("sampler", "message"), BROKEN_KERNELS.values(), ids=BROKEN_KERNELS.keys())
def test_broken_kernels_are_caught(sampler: Any, message: str) -> None:
    registry = restorefw.Registry()
    registry.register("kernel", "broken", lambda: sampler)
    with pytest.raises(ContractError, match=rf"^kernel 'broken': .*{message}"):
        check_kernel(registry, "broken")


class _NoUpsampling(FakeModel):
    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x)


class _BatchStatistics(FakeModel):
    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x - x.mean(0, keepdim=True))


class _Float64Output(FakeModel):
    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x).double()


class _UnsavedState(FakeModel):
    def __init__(self, scale: int = 1) -> None:
        super().__init__(scale=scale)
        self.register_buffer("offset", torch.rand(1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x) + self.offset


BROKEN_MODELS = {
    "wrong_scale": (lambda: _NoUpsampling(scale=2), r"output shape \(2, 3, 16, 16\).*expected \(2, C, 32, 32\)"),
    "batch_statistics": (_BatchStatistics, "depends on the other images"),
    "unsaved_state": (_UnsavedState, "loaded with the saved state dict gives other outputs"),
    "float64_output": (_Float64Output, "output dtype torch.float64"),
    "not_a_module": (lambda: (lambda x: x), "must return a torch.nn.Module"),
}


@pytest.mark.parametrize(("factory", "message"), BROKEN_MODELS.values(), ids=BROKEN_MODELS.keys())
def test_broken_models_are_caught(factory: Any, message: str) -> None:
    registry = restorefw.Registry()
    registry.register("model", "broken", factory)
    with pytest.raises(ContractError, match=rf"^model 'broken': .*{message}"):
        check_model(registry, "broken")


class _HigherIsBetterMae(FakeMetric):
    higher_is_better = True


class _BatchMean(FakeMetric):
    def __call__(self, pred: Tensor, target: Tensor) -> Tensor:
        return super().__call__(pred, target).mean()


class _DetachedLoss(FakeLoss):
    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return super().forward(pred.detach(), target)


class _PixelLoss(FakeLoss):
    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return (pred - target).abs()


BROKEN_METRICS_LOSSES = {
    "wrong_direction": ("metric", _HigherIsBetterMae, "higher_is_better=True"),
    "batch_mean": ("metric", _BatchMean, r"must return a \(2,\) tensor"),
    "no_direction": ("metric", lambda: (lambda p, t: FakeMetric()(p, t)), "needs a bool attribute 'higher_is_better'"),
    "detached": ("loss", _DetachedLoss, "does not depend on pred"),
    "per_pixel": ("loss", _PixelLoss, r"must return a scalar \(0-d\) tensor"),
    "not_a_module": ("loss", lambda: (lambda p, t: (p - t).abs().mean()), "must return a torch.nn.Module"),
}


@pytest.mark.parametrize(("kind", "factory", "message"), BROKEN_METRICS_LOSSES.values(),
                         ids=BROKEN_METRICS_LOSSES.keys())
def test_broken_metrics_and_losses_are_caught(kind: str, factory: Any, message: str) -> None:
    registry = restorefw.Registry()
    registry.register(kind, "broken", factory)
    check = check_metric if kind == "metric" else check_loss
    with pytest.raises(ContractError, match=rf"^{kind} 'broken': .*{message}"):
        check(registry, "broken")


def test_config_that_does_not_serialise_is_caught() -> None:
    registry = restorefw.Registry()
    registry.register("kernel", "broken", lambda where=Path("k.npy"): FakeKernel())
    with pytest.raises(ContractError, match="not JSON-serialisable"):
        check_kernel(registry, "broken")


def test_task_with_mismatched_scale_is_caught(fakes: restorefw.Registry) -> None:
    registry = restorefw.Registry()
    registry.register("task", "broken", lambda: restorefw.Task("broken", FakeDegradation(scale=2)))
    with pytest.raises(ContractError, match="Task.scale is 1 but its degradation's scale is 2"):
        check_task(registry, "broken")


# --------------------------------------------------------------------------- first-party components

# Per-component parameters and check options; every other first-party component is checked with its defaults.
OPTIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("degradation", "bicubic_down"): {"stochastic": False},
    ("degradation", "gaussian_noise"): {"in_range": False},  # unclipped by default, as in the papers
    ("degradation", "blur"): {"kernel": "isotropic_gaussian"},
    ("degradation", "chain"): {"steps": [{"type": "blur", "kernel": "anisotropic_gaussian"}, "bicubic_down"],
                               "input_shape": (2, 3, 32, 32)},
    ("kernel", "fixed_gaussian"): {"stochastic": False},
    ("kernel", "kernel_file"): {"stochastic": False},
    ("task", "sr"): {"stochastic": False},
    ("task", "denoise"): {"in_range": False},
    ("task", "custom"): {"degradation": "bicubic_down", "stochastic": False},
    ("task", "deblur"): {"kernel": "isotropic_gaussian"},
    ("model", "rescnn"): {"channels": 8, "blocks": 1},
    ("model", "restormer"): TINY_RESTORMER,
    ("model", "restormer.encoder"): TINY_RESTORMER,
    ("model", "restormer.decoder"): {**TINY_RESTORMER, "encoder_spec": {"type": "restormer.encoder", **TINY_RESTORMER}},
}
CHECKS = {"degradation": check_degradation, "kernel": check_kernel, "task": check_task, "model": check_model,
          "metric": check_metric, "loss": check_loss}
FIRST_PARTY = sorted(
    (e.kind, e.name)
    for e in restorefw.build_registry(restorefw.get_plugin_manager(only=["basic", "restormer"]))
    if e.plugin in ("basic", "restormer") and e.kind in CHECKS
)


def test_first_party_plugins_are_covered() -> None:
    kinds = {kind for kind, _ in FIRST_PARTY}
    assert kinds == set(CHECKS), kinds
    assert ("model", "restormer.decoder") in FIRST_PARTY


@pytest.mark.parametrize(("kind", "name"), FIRST_PARTY, ids=[f"{k}-{n}" for k, n in FIRST_PARTY])
def test_first_party_components_pass(
    kind: str, name: str, registry: restorefw.Registry, tmp_path: Path
) -> None:
    options = dict(OPTIONS.get((kind, name), {}))
    if name == "kernel_file":
        kernel = np.outer(np.hanning(7), np.hanning(7))
        np.save(tmp_path / "k.npy", kernel)
        options["path"] = str(tmp_path / "k.npy")
    CHECKS[kind](registry, name, **options)
