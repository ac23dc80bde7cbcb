"""``restorefw restore`` / ``convert`` / ``run`` from the command line, with user errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import torch
from PIL import Image

from restorefw import resolve_recipe
from restorefw.engine import Runner
from restorefw.testing import tiny_recipe

RECIPE = tomli_w.dumps(tiny_recipe("cli"))


def restorefw_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "restorefw", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def run_dir(registry, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "r"
    Runner(resolve_recipe(tiny_recipe("cli"), registry), registry, out, quiet=True).run()
    return out


def _png(path: Path, height: int, width: int, mode: str = "RGB") -> Path:
    rng = np.random.default_rng(0)
    channels = {"RGB": 3, "RGBA": 4}.get(mode)
    shape = (height, width, channels) if channels else (height, width)
    Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode=mode).save(path)
    return path


def test_restore_odd_size_keeps_size(run_dir, tmp_path):
    image = _png(tmp_path / "odd.png", 173, 251)
    result = restorefw_cli("restore", "--checkpoint", str(run_dir / "checkpoints/last.safetensors"), str(image),
                           "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out/odd.png").size == (251, 173)


def test_restore_grey_and_rgba_inputs_from_run_folder(run_dir, tmp_path):
    _png(tmp_path / "in" / "g.png", 40, 30, "L") if (tmp_path / "in").mkdir() is None else None
    _png(tmp_path / "in" / "a.png", 33, 35, "RGBA")
    result = restorefw_cli("restore", "--run", str(run_dir), str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                           "--tile", "16", "--tile-overlap", "4")
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out/g.png").size == (30, 40)
    assert Image.open(tmp_path / "out/a.png").size == (35, 33)


@pytest.mark.parametrize("content", [b"not an image", b""])
def test_restore_unreadable_image_is_exit_2(run_dir, tmp_path, content):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    result = restorefw_cli("restore", "--run", str(run_dir), str(bad), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "bad.png" in result.stderr and "Traceback" not in result.stderr


def test_restore_without_model_source_is_usage_error(tmp_path):
    result = restorefw_cli("restore", str(tmp_path), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "exactly one of --checkpoint or --run" in result.stderr


def test_run_refuses_existing_folder(run_dir, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE)
    result = restorefw_cli("run", str(recipe), "--out", str(run_dir), "--quiet")
    assert result.returncode == 2 and "exists and is not empty" in result.stderr
    result = restorefw_cli("run", "--resume", str(run_dir))
    assert result.returncode == 2 and "already complete" in result.stderr


def test_convert_then_restore_official_style_checkpoint(tmp_path):
    from restorefw_restormer import Restormer

    torch.manual_seed(0)
    model = Restormer(dim=8, num_blocks=[1, 1, 1, 1], heads=[1, 1, 2, 2], num_refinement_blocks=1,
                      LayerNorm_type="BiasFree")
    torch.save({"params": model.state_dict()}, tmp_path / "official.pth")
    result = restorefw_cli("convert", str(tmp_path / "official.pth"), str(tmp_path / "model.safetensors"))
    assert result.returncode == 0, result.stderr
    assert "restormer" in result.stdout
    image = _png(tmp_path / "x.png", 37, 61)
    result = restorefw_cli("restore", "--checkpoint", str(tmp_path / "model.safetensors"), str(image),
                           "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out/x.png").size == (61, 37)
    result = restorefw_cli("restore", "--checkpoint", str(tmp_path / "model.safetensors"), str(image),
                           "--out", str(tmp_path / "tiled"), "--tile", "16", "--tile-mode", "exact")
    assert result.returncode == 0, result.stderr
    tiled, whole = (np.asarray(Image.open(tmp_path / f"{name}/x.png")) for name in ("tiled", "out"))
    assert np.array_equal(tiled, whole)
    bad = tmp_path / "bad.pth"
    sd = model.state_dict()
    sd.pop("output.weight")
    torch.save(sd, bad)
    result = restorefw_cli("convert", str(bad), str(tmp_path / "bad.safetensors"))
    assert result.returncode == 2 and "output.weight" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_exits_130_and_resume_finishes(tmp_path, monkeypatch, capsys):
    from restorefw.cli import cli
    from restorefw.cli._common import run_cli
    from restorefw.engine import Strategy

    recipe = tmp_path / "r.toml"
    recipe.write_text(tomli_w.dumps(tiny_recipe("cli", stages=[{"name": "s", "steps": 4}])))
    original = Strategy.train_step

    def interrupt_at_2(self, ctx, batch):
        if ctx.step == 2:
            raise KeyboardInterrupt
        return original(self, ctx, batch)

    monkeypatch.setattr(Strategy, "train_step", interrupt_at_2)
    monkeypatch.setattr(sys, "argv", ["restorefw", "run", str(recipe), "--out", str(tmp_path / "run"), "--quiet"])
    with pytest.raises(SystemExit) as info:
        run_cli(cli)
    assert info.value.code == 130
    assert "restorefw run --resume" in capsys.readouterr().err
    assert (tmp_path / "run/checkpoints/s-2.safetensors").exists() and not (tmp_path / "run/summary.json").exists()
    monkeypatch.setattr(Strategy, "train_step", original)
    monkeypatch.setattr(sys, "argv", ["restorefw", "run", "--resume", str(tmp_path / "run"), "--quiet"])
    run_cli(cli)
    assert (tmp_path / "run/summary.json").exists()


def test_adaptation_needs_a_model_that_supports_it(run_dir, tmp_path):
    import numpy as np

    image = _png(tmp_path / "x.png", 20, 20)
    np.save(tmp_path / "k.npy", np.ones((3, 3)) / 9)
    result = restorefw_cli("restore", "--run", str(run_dir), str(image), "--out", str(tmp_path / "o"),
                           "--adapt-steps", "1", "--kernel", str(tmp_path / "k.npy"))
    assert result.returncode == 2 and "model 'rescnn' does not support zero-shot adaptation" in result.stderr
    result = restorefw_cli("restore", "--run", str(run_dir), str(image), "--out", str(tmp_path / "o"),
                           "--adapt-steps", "1")
    assert result.returncode == 2 and "--adapt-steps and --kernel go together" in result.stderr


def test_exact_tiling_needs_a_model_that_has_it(run_dir, tmp_path):
    image = _png(tmp_path / "x.png", 40, 40)
    result = restorefw_cli("restore", "--run", str(run_dir), str(image), "--out", str(tmp_path / "o"),
                           "--tile", "16", "--tile-mode", "exact")
    assert result.returncode == 2 and "has no exact tiling" in result.stderr and "Traceback" not in result.stderr
