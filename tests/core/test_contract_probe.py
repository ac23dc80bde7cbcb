"""Contract violations of plugin components are reported by ``validate`` (and before ``run`` writes anything),
naming component and plugin; exceptions raised inside plugins during a run name them too."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner

from restorefw import load_recipe, resolve_recipe
from restorefw.cli import cli
from restorefw.engine import check_recipe
from restorefw.testing import tiny_recipe

ROOT = Path(__file__).resolve().parents[2]

LAB = """
    import torch
    from torch import nn

    import restorefw
    from restorefw.engine import Strategy


    class HazeConfig(restorefw.StrictModel):
        mode: str = "ok"


    class Haze:
        def __init__(self, mode):
            self.mode = mode

        def __call__(self, hr, generator):
            if self.mode == "bare":
                return hr * 0.9
            if self.mode == "shape":
                return hr[:, :, ::2], hr
            if self.mode == "raise" or (self.mode == "flaky" and hr.shape[0] == 3):
                raise RuntimeError("the haze table is missing")
            return hr * 0.9, hr


    class Mean:
        higher_is_better = False
        name = "lab_mean"

        def __call__(self, pred, target):
            return (pred - target).abs().mean()


    class PerImageLoss(nn.Module):
        def forward(self, pred, target):
            return (pred - target).abs().flatten(1).mean(1)


    class Boom(Strategy):
        def train_step(self, ctx, batch):
            raise RuntimeError("boom")


    def not_a_strategy():
        return object()


    def head(n_feats: int = 32):
        from restorefw_ipt import IPTHead

        return IPTHead(3, n_feats)


    def tail(n_feats: int = 32):
        from restorefw_ipt import IPTTail

        return IPTTail(1, 3, n_feats)


    @restorefw.hookimpl
    def register_degradations(register):
        register("lab_haze", Haze, schema=HazeConfig)


    @restorefw.hookimpl
    def register_metrics(register):
        register("lab_mean", Mean)


    @restorefw.hookimpl
    def register_losses(register):
        register("lab_per_image", PerImageLoss)


    @restorefw.hookimpl
    def register_strategies(register):
        register("lab_boom", Boom)
        register("lab_object", not_a_strategy)


    @restorefw.hookimpl
    def register_heads_tails(register):
        register("lab.head", head, part="head")
        register("lab.tail", tail, part="tail")
"""

LAB_ORIGIN = "(plugin 'lab_contract' (restorefw-lab-contract 0.1.0))"
IPT = {"type": "ipt", "scales": [1], "patch_size": 24, "n_feats": 16, "num_heads": 4, "num_layers": 1,
       "channels": None, "blocks": None}


def _recipe(tmp_path: Path, haze: str = "ok", stage: dict | None = None, **sections: object) -> Path:
    recipe = tiny_recipe("probe", task={"type": "custom", "degradation": {"type": "lab_haze", "mode": haze}},
                         stages=[{"name": "s", "steps": 1, **(stage or {})}], **sections)
    recipe["data"]["val"] = {"type": "skimage_samples", "images": ["camera"]}
    recipe["data"]["val_max_size"] = 32
    path = tmp_path / "recipe.toml"
    path.write_text(tomli_w.dumps(recipe))
    return path


VIOLATIONS = {
    "degradation returns a bare tensor": (
        {"haze": "bare"}, "task", f"degradation 'lab_haze' {LAB_ORIGIN}: degrade(hr, generator) returned a tensor of "
                                  "shape (2, 3, 24, 24), expected a (lq, target) tuple of tensors"),
    "degradation gives the wrong shape": (
        {"haze": "shape"}, "task", f"degradation 'lab_haze' {LAB_ORIGIN}: degrade(hr, generator) on hr (2, 3, 24, 24) "
                                   "gave lq (2, 3, 12, 24) and target (2, 3, 24, 24), expected"),
    "degradation raises": (
        {"haze": "raise"}, "task", f"degradation 'lab_haze' {LAB_ORIGIN}: degrade(hr) on a (2, 3, 24, 24) batch "
                                   "raised RuntimeError: the haze table is missing"),
    "metric returns one number": (
        {"eval": {"metrics": ["psnr", "lab_mean"]}}, "eval.metrics[1]",
        f"metric 'lab_mean' {LAB_ORIGIN}: metric(pred, target) returned a tensor of shape () for a batch of 2, "
        "expected a (2,) tensor"),
    "loss returns one value per image": (
        {"stage": {"loss": "lab_per_image"}}, "stages[0].loss",
        f"loss 'lab_per_image' {LAB_ORIGIN}: loss(pred, target) returned a tensor of shape (2,), expected a scalar"),
    "strategy factory returns no strategy": (
        {"stage": {"strategy": "lab_object"}}, "stages[0].strategy",
        "strategy 'lab_object' (plugin 'lab_contract' (restorefw-lab-contract 0.1.0)): the factory returned object, "
        "expected a restorefw.Strategy"),
    "head too wide for the body": (
        {"model": {**IPT, "heads": ["lab.head"]}}, "model",
        f"model 'ipt' (plugin 'ipt' (restorefw 0.1.0)): forward on a (2, 3, 24, 24) input failed after head "
        f"'lab.head' {LAB_ORIGIN} gave (2, 32, 24, 24), which the rest of the model could not take"),
    "tail narrower than the body": (
        {"model": {**IPT, "tails": ["lab.tail"]}}, "model",
        f"tail 'lab.tail' {LAB_ORIGIN}, inside model 'ipt' (plugin 'ipt' (restorefw 0.1.0)), failed on its "
        "(2, 16, 24, 24) input: RuntimeError: Given groups=1, weight of size [3, 32, 3, 3], expected "
        "input[2, 16, 24, 24] to have 32 channels, but got 16 channels instead"),
}


@pytest.fixture
def lab(install_plugin) -> None:
    install_plugin("lab_contract", LAB)


@pytest.mark.parametrize("case", sorted(VIOLATIONS))
def test_validate_reports_the_violation_naming_component_and_plugin(lab, tmp_path, case) -> None:
    options, path, message = VIOLATIONS[case]
    recipe = _recipe(tmp_path, options.get("haze", "ok"), options.get("stage"),  # type: ignore[arg-type]
                     **{k: v for k, v in options.items() if k not in ("haze", "stage")})
    result = CliRunner().invoke(cli, ["validate", str(recipe)])
    assert result.exit_code == 2, result.output
    assert f"error: {recipe}: {path}: {message}" in result.stderr, result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    if case == "degradation returns a bare tensor":
        out = tmp_path / "run"
        result = CliRunner().invoke(cli, ["run", str(recipe), "--out", str(out), "--quiet"])
        assert result.exit_code == 2 and message in result.stderr and not out.exists()


def test_a_sound_recipe_with_the_labs_components_validates(lab, tmp_path) -> None:
    recipe = _recipe(tmp_path, model={**IPT, "heads": [{"type": "lab.head", "n_feats": 16}],
                                      "tails": [{"type": "lab.tail", "n_feats": 16}]})
    result = CliRunner().invoke(cli, ["validate", str(recipe)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("where", ["degradation", "strategy"])
def test_a_plugin_exception_during_a_run_names_it_and_keeps_the_traceback_for_debug(lab, tmp_path, where) -> None:
    if where == "degradation":
        recipe = _recipe(tmp_path, "flaky", data={"batch_size": 3})
        message = (f"error: degradation 'lab_haze' {LAB_ORIGIN}: degrade(hr) on a (3, 3, 24, 24) batch raised "
                   "RuntimeError: the haze table is missing (restorefw --debug shows the traceback)")
    else:
        recipe = _recipe(tmp_path, stage={"strategy": "lab_boom"})
        message = (f"error: strategy 'lab_boom' {LAB_ORIGIN}: train_step() at step 0 of stage 's' raised "
                   "RuntimeError: boom (restorefw --debug shows the traceback)")
    assert CliRunner().invoke(cli, ["validate", str(recipe)]).exit_code == 0
    result = CliRunner().invoke(cli, ["run", str(recipe), "--out", str(tmp_path / "a"), "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == message and "Traceback" not in result.output
    debug = CliRunner().invoke(cli, ["--debug", "run", str(recipe), "--out", str(tmp_path / "b"), "--quiet"])
    assert debug.exit_code == 2 and "Traceback (most recent call last)" in debug.stderr
    assert "lab_contract.py" in debug.stderr and "The above exception was the direct cause" in debug.stderr
    env = CliRunner(env={"RESTOREFW_DEBUG": "1"}).invoke(cli, ["run", str(recipe), "--out", str(tmp_path / "c")])
    assert env.exit_code == 2 and "Traceback" in env.stderr


def test_every_shipped_recipe_passes_the_probe(registry) -> None:
    recipes = sorted((ROOT / "recipes").glob("*.toml")) + sorted(ROOT.glob("contrib/*/recipes/*.toml"))
    assert len(recipes) >= 10
    for path in recipes:
        check_recipe(resolve_recipe(load_recipe(path), registry, source=str(path)), registry)
