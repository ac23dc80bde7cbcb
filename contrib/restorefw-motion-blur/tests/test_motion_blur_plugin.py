"""restorefw-motion-blur: the conformance kit, plus the shape of the trajectories."""

from __future__ import annotations

from pathlib import Path

import pytest
import restorefw_motion_blur
import torch
from restorefw_motion_blur import rasterise, trajectory

import restorefw
from restorefw.testing import check_degradation, check_kernel, check_task, registry_with

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "deblur_motion_quick.toml"


@pytest.fixture(scope="module")
def registry() -> restorefw.Registry:
    return registry_with(restorefw_motion_blur)


@pytest.fixture(scope="module")
def with_basic() -> restorefw.Registry:
    """The plugin plus the installed basic plugin, whose blur and deblur take any kernel."""
    return registry_with(restorefw_motion_blur, load_entrypoints=True, only=["basic"])


@pytest.mark.parametrize(
    "params",
    [{}, {"intensity": 0.0}, {"size": 31, "length": [20.0, 40.0], "intensity": 1.5}, {"size": 3, "length": [1.0, 2.0]}],
)
def test_meets_the_kernel_contract(registry: restorefw.Registry, params: dict[str, object]) -> None:
    check_kernel(registry, "motion_blur", **params)


def _moments(kernel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre of mass (x, y) and the eigenvalues of the mass covariance, ascending."""
    k = kernel.double()
    y, x = torch.meshgrid(torch.arange(k.shape[0]), torch.arange(k.shape[1]), indexing="ij")
    points = torch.stack([x.flatten(), y.flatten()], 1).double()
    mean = (k.flatten()[:, None] * points).sum(0)
    centred = points - mean
    cov = (k.flatten()[:, None, None] * centred[:, :, None] * centred[:, None, :]).sum(0)
    return mean, torch.linalg.eigvalsh(cov)


def test_zero_intensity_is_a_centred_straight_line(registry: restorefw.Registry) -> None:
    sampler = registry.create("kernel", "motion_blur", size=21, length=[12.0, 12.0], intensity=0.0)
    for seed in range(5):
        mean, (minor, major) = _moments(sampler(torch.Generator().manual_seed(seed)))
        assert torch.allclose(mean, torch.tensor([10.0, 10.0], dtype=torch.float64), atol=1e-6)
        assert minor < 0.3  # one pixel wide: only bilinear spreading across the line
        assert major.sqrt() == pytest.approx(12 / 12**0.5, rel=0.1)  # a uniform segment of length 12


def test_intensity_bends_the_path() -> None:
    straight, bent = [], []
    for seed in range(20):
        for intensity, out in ((0.0, straight), (1.0, bent)):
            path = trajectory(128, 10.0, intensity, torch.Generator().manual_seed(seed))
            out.append(float((path[-1] - path[0]).norm()))
    assert min(straight) == pytest.approx(10.0)
    assert sum(bent) / len(bent) < 9.0


def test_long_paths_are_shrunk_into_the_kernel() -> None:
    path = trajectory(64, 100.0, 0.3, torch.Generator().manual_seed(0))
    kernel = rasterise(path, 9)
    assert kernel.shape == (9, 9) and kernel.sum().item() == pytest.approx(1.0)
    assert kernel[0].sum() + kernel[-1].sum() + kernel[:, 0].sum() + kernel[:, -1].sum() > 0


@pytest.mark.parametrize(("params", "message"), [({"size": 20}, "odd"), ({"length": [9.0, 3.0]}, "length")])
def test_invalid_parameters_are_rejected(registry: restorefw.Registry, params: dict[str, object], message: str) -> None:
    with pytest.raises(restorefw.ConfigError, match=message):
        registry.create("kernel", "motion_blur", **params)


def test_usable_by_the_basic_blur_and_deblur(with_basic: restorefw.Registry) -> None:
    check_degradation(with_basic, "blur", kernel={"type": "motion_blur", "size": 15})
    check_degradation(with_basic, "blur", kernel="motion_blur", scale=2, downsample="bicubic")
    check_task(with_basic, "deblur", kernel={"type": "motion_blur", "intensity": 1.0})


def test_quick_recipe_validates(with_basic: restorefw.Registry) -> None:
    resolved = restorefw.resolve_recipe(restorefw.load_recipe(RECIPE), with_basic)
    assert resolved["task"]["kernel"]["type"] == "motion_blur"


def test_mzsr_meta_trains_on_motion_blur_kernels(tmp_path: Path) -> None:
    """MZSR's meta-transfer stage draws its tasks from this plugin's kernel family, from a recipe."""
    import json

    from click.testing import CliRunner

    from restorefw.cli import cli

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "mzsr_motion_quick.toml"
    runner = CliRunner()
    assert runner.invoke(cli, ["validate", str(recipe)]).exit_code == 0
    out = tmp_path / "run"
    result = runner.invoke(cli, ["run", str(recipe), "--out", str(out), "--quiet", "--set", "stages[0].steps=2",
                                 "--set", "stages[1].steps=2", "--set", "stages[1].strategy.eval_adapt_steps=[0, 1]"])
    assert result.exit_code == 0, result.output
    evaluation = json.loads((out / "summary.json").read_text())["stages"]["meta"]["strategy_eval"]
    assert {"psnr_adapt_0", "psnr_adapt_1"} <= set(evaluation["mean"])
