from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from restorefw import RecipeError, apply_overrides, dump_recipe, load_recipe, resolve_recipe
from restorefw.cli import cli

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = """
[data]
train = { type = "skimage_samples", images = ["camera"] }
[task]
type = "denoise"
[model]
type = "rescnn"
[[stages]]
name = "s1"
steps = 5
"""

def _set(path: list, value):
    def mutate(data: dict) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


BAD = {
    "wrong_type": (_set(["stages", 0, "optimizer"], {"type": "adam", "lr": -1}),
                   ["stages[0].optimizer.lr: Input should be greater than 0"]),
    "unknown_key": (_set(["run"], {"seeed": 3}), ["run.seeed: unknown key"]),
    "unknown_component": (_set(["model", "type"], "rescnnn"),
                          ["model.type: unknown model 'rescnnn' (did you mean 'rescnn'?)"]),
    "syntax": (None, ["TOML syntax error"]),
    "nested_param": (_set(["task"], {"type": "sr", "degradation": {"type": "bicubic_down", "scale": "x"}}),
                     ["task.degradation.scale: Input should be a valid integer"]),
}


def test_every_shipped_recipe_validates(registry):
    recipes = sorted((ROOT / "recipes").glob("*.toml"))
    assert recipes
    for path in recipes:
        resolve_recipe(load_recipe(path), registry, source=str(path))


def test_resolved_recipe_fills_defaults_and_round_trips(registry):
    resolved = resolve_recipe(tomllib.loads(MINIMAL), registry)
    assert resolved["stages"][0]["optimizer"] == {"type": "adam", "lr": 1e-3, "betas": (0.9, 0.999),
                                                   "weight_decay": 0.0, "eps": 1e-8}
    assert resolved["eval"]["metrics"][0] == {"type": "psnr", "crop_border": 0, "y_channel": False}
    again = resolve_recipe(tomllib.loads(dump_recipe(resolved)), registry)
    assert dump_recipe(again) == dump_recipe(resolved)


def test_sr_task_sets_eval_defaults(registry):
    text = MINIMAL.replace('type = "denoise"', 'type = "sr"\nscale = 3')
    resolved = resolve_recipe(tomllib.loads(text), registry)
    assert resolved["eval"]["crop_border"] == 3 and resolved["eval"]["y_channel"] is True


def test_overrides():
    data = tomllib.loads(MINIMAL)
    apply_overrides(data, ["stages[0].steps=7", "run.name=abc", "model.channels=16", "run.device=cpu"])
    assert data["stages"][0]["steps"] == 7 and data["run"]["name"] == "abc" and data["model"]["channels"] == 16
    with pytest.raises(RecipeError, match="stages\\[3\\].steps"):
        apply_overrides(data, ["stages[3].steps=1"])


def test_all_problems_reported_at_once(registry):
    data = tomllib.loads(MINIMAL)
    data["run"] = {"seed": "x"}
    data["model"]["channels"] = 0
    with pytest.raises(RecipeError) as info:
        resolve_recipe(data, registry)
    assert [p for p, _ in info.value.problems] == ["run.seed"]
    data["run"] = {}
    with pytest.raises(RecipeError) as info:
        resolve_recipe(data, registry)
    assert info.value.problems == [("model.channels", "Input should be greater than 0")]


def test_phases_must_cover_steps(registry):
    data = tomllib.loads(MINIMAL)
    data["stages"][0]["phases"] = [{"steps": 2, "patch_size": 32, "batch_size": 2}]
    with pytest.raises(RecipeError, match="phases add up to 2 steps but the stage has steps = 5"):
        resolve_recipe(data, registry)


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_validate_and_run_reject_bad_recipes(tmp_path, case):
    import tomli_w

    mutate, expected = BAD[case]
    path = tmp_path / f"{case}.toml"
    if mutate is None:
        path.write_text("[run\nname = 1\n")
    else:
        data = tomllib.loads(MINIMAL)
        mutate(data)
        path.write_text(tomli_w.dumps(data))
    runner = CliRunner()
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    for line in expected:
        assert any(line in out for out in result.output.splitlines()), result.output
    assert "Traceback" not in result.output
    out = tmp_path / "run"
    from restorefw.cli._common import run_cli

    with pytest.raises(SystemExit) as info:
        import sys

        sys.argv = ["restorefw", "run", str(path), "--out", str(out)]
        run_cli(cli)
    assert info.value.code == 2 and not out.exists()


def test_missing_recipe_file_is_exit_2(tmp_path, capsys):
    import sys

    from restorefw.cli._common import run_cli

    sys.argv = ["restorefw", "validate", str(tmp_path / "nope.toml")]
    with pytest.raises(SystemExit) as info:
        run_cli(cli)
    assert info.value.code == 2
    assert "recipe file not found" in capsys.readouterr().err


def test_run_ops_policy_is_checked(registry):
    data = tomllib.loads(MINIMAL)
    data["run"] = {"ops": "layernorm2d=reference"}
    assert resolve_recipe(data, registry)["run"]["ops"] == "layernorm2d=reference"
    data["run"] = {"ops": "layernorm2d=nope"}
    with pytest.raises(RecipeError) as info:
        resolve_recipe(data, registry)
    assert info.value.problems[0][0] == "run.ops" and "has no implementation 'nope'" in info.value.problems[0][1]


def test_run_ops_reference_reaches_the_model(registry, tmp_path):
    from restorefw.engine import Runner

    text = MINIMAL.replace('type = "rescnn"', 'type = "restormer"\ndim = 8\nnum_blocks = [1, 1, 1, 1]\n'
                           'heads = [1, 1, 2, 2]\nnum_refinement_blocks = 1')
    data = tomllib.loads(text)
    data["run"] = {"ops": "reference", "device": "cpu"}
    runner = Runner(resolve_recipe(data, registry), registry, tmp_path / "r", quiet=True)
    bound = {impl.name for module in runner.model.modules() if hasattr(module, "bound_ops")
             for impl in module.bound_ops().values()}
    assert bound == {"reference"}
