"""``restorefw eval``: a run's validation reproduced, an SR pack with bicubic, recipes without stages."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import tomli_w
import torch
from eval_helpers import call_cli, eval_json, png, scores, tiny_checkpoint

from restorefw import resolve_recipe
from restorefw.data import mod_crop, quantize_8bit, read_image
from restorefw.engine import Runner, read_run
from restorefw.ops import resolve
from restorefw.testing import make_sr_pack, tiny_recipe

VAL = {"val": {"type": "skimage_samples", "images": ["camera", "coins"]}, "val_max_size": 40}


@pytest.fixture(scope="module")
def trained_run(registry, tmp_path_factory) -> Path:
    """A tiny denoising run (the quickstart's task and model, shrunk) with a validation set, on one thread."""
    out = tmp_path_factory.mktemp("evalrun") / "tiny"
    recipe = tiny_recipe("tiny", run={"threads": 1}, data=VAL, stages=[{"name": "s", "steps": 3}])
    threads = torch.get_num_threads()
    try:
        Runner(resolve_recipe(recipe, registry), registry, out, quiet=True).run()
    finally:
        torch.set_num_threads(threads)  # the runner sets the process's count; the other tests keep theirs
    return out


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> Path:
    """An SR pack of two scikit-image samples, inputs by MATLAB bicubic at x2, x3 and x4."""
    return make_sr_pack(tmp_path_factory.mktemp("pack") / "pack", ("astronaut", "coffee"), (2, 3, 4), crop=36)


def test_eval_reproduces_the_runs_final_validation(trained_run, tmp_path, monkeypatch, capsys):
    code, out, err = call_cli(monkeypatch, capsys, "eval", str(trained_run), "--out", str(tmp_path / "ev"))
    assert code == 0, err
    final = json.loads((trained_run / "summary.json").read_text())["stages"]["s"]
    summary = eval_json(tmp_path / "ev")
    # Bit for bit: the same pairs, weights, metrics and thread count (CPU sums depend on it).
    assert scores(summary, "tiny", "val") == final["val"]
    assert scores(summary, "input", "val") == final["input"]
    assert summary["status"] == "complete" and summary["sets"][0]["protocol"]["name"] == "recipe"
    assert "tiny" in out and "val" in out and f"evaluation folder: {tmp_path / 'ev'}" in out
    assert read_run(tmp_path / "ev").status == "complete"  # restorefw runs lists it as such
    (tmp_path / "ev" / "eval.json").unlink()  # as if stopped before its last write
    stopped = read_run(tmp_path / "ev")
    assert stopped.status == "failed" and "run restorefw eval again" in stopped.message
    # Off a terminal, progress is plain lines with counts.
    assert "eval val: 2 images" in err and "eval val: 2/2 images" in err


def test_sr_pack_with_basic_models_and_bicubic(registry, pack, tmp_path, monkeypatch, capsys):
    models = [str(tiny_checkpoint(registry, tmp_path / f"x{s}.safetensors", s)) for s in (2, 3, 4)]
    code, out, err = call_cli(monkeypatch, capsys, "eval", *models, str(pack), "--out", str(tmp_path / "ev"),
                              "--save-images")
    assert code == 0, err
    summary = eval_json(tmp_path / "ev")
    assert [c["set"] for c in summary["columns"]] == ["pack x2", "pack x3", "pack x4"]
    assert {s["key"]: s["protocol"]["name"] for s in summary["sets"]} == dict.fromkeys(
        ["pack x2", "pack x3", "pack x4"], "sr")
    imresize = resolve("imresize_bicubic")
    psnr = registry.create("metric", "psnr", crop_border=3, y_channel=True)
    expected = []
    for name in ("astronaut", "coffee"):  # BasicSR's Y-PSNR of the bicubic baseline, computed apart
        hr = mod_crop(read_image(pack / "HR" / f"{name}.png"), 3)[None]
        lr = read_image(pack / "LR_bicubic" / "X3" / f"{name}x3.png")[None]
        expected.append(float(psnr(quantize_8bit(imresize(lr, scale=3).clamp(0, 1)), hr)[0]))
    assert scores(summary, "bicubic", "pack x3")["psnr"] == pytest.approx(sum(expected) / 2, abs=1e-9)
    assert set(scores(summary, "x3", "pack x3")) == {"psnr", "ssim"}
    assert "pack x4" not in next(r for r in summary["rows"] if r["name"] == "x3")["scores"]
    rows = list(csv.DictReader((tmp_path / "ev" / "eval.csv").open()))
    assert len(rows) == 2 * 3 * 2 and {r["model"] for r in rows} == {"bicubic", "x2", "x3", "x4"}
    assert len(summary["per_image"]) == len(rows)
    assert (tmp_path / "ev" / "images" / "pack_x2" / "x2" / "coffee.png").is_file()
    assert (tmp_path / "ev" / "strips" / "pack_x4" / "astronaut.png").is_file()
    assert "bicubic" in out and "x4" in out and "ms/MP" in out


def test_ground_truth_only_sets_take_the_models_task(registry, trained_run, tmp_path, monkeypatch, capsys):
    clean = tmp_path / "clean"
    png(clean / "a.png", 24, 24, seed=1)
    png(clean / "b.png", 24, 28, seed=2)
    checkpoint = trained_run / "checkpoints" / "last.safetensors"
    code, _, err = call_cli(monkeypatch, capsys, "eval", str(checkpoint), str(clean), "--out", str(tmp_path / "a"),
                            "--seed", "3")
    assert code == 0, err
    summary = eval_json(tmp_path / "a")
    assert summary["sets"][0]["layout"] == "gt_only" and summary["sets"][0]["protocol"]["seed"] == 3
    assert scores(summary, "tiny", "clean")["psnr"] > scores(summary, "input", "clean")["psnr"] - 3
    bare = tiny_checkpoint(registry, tmp_path / "bare.safetensors")
    code, _, err = call_cli(monkeypatch, capsys, "eval", str(bare), str(clean), "--out", str(tmp_path / "b"))
    assert code == 2 and "holds ground truth only" in err and "--task" in err
    assert not (tmp_path / "b").exists()
    code, _, err = call_cli(monkeypatch, capsys, "eval", str(bare), str(clean), "--out", str(tmp_path / "c"),
                            "--task", "denoise", "--set", "task.sigma=10")
    assert code == 0, err
    assert eval_json(tmp_path / "c")["sets"][0]["protocol"]["name"] == "restore"


def test_recipe_without_stages_evaluates(registry, pack, tmp_path, monkeypatch, capsys):
    checkpoint = tiny_checkpoint(registry, tmp_path / "x2.safetensors", 2)
    recipe = {"run": {"name": "score", "device": "cpu"},
              "model": {"type": "rescnn", "channels": 4, "blocks": 1, "scale": 2, "checkpoint": str(checkpoint)},
              "eval": {"sets": [str(pack)], "protocol": {"name": "sr", "crop_border": 0}, "limit": 1}}
    path = tmp_path / "score.toml"
    path.write_text(tomli_w.dumps(recipe))
    code, _, err = call_cli(monkeypatch, capsys, "validate", str(path))
    assert code == 0, err
    code, out, err = call_cli(monkeypatch, capsys, "run", str(path), "--out", str(tmp_path / "run"))
    assert code == 0, err
    summary = eval_json(tmp_path / "run")
    assert summary["sets"][0]["protocol"]["crop_border"] == 0 and summary["sets"][0]["images"] == 1
    assert (tmp_path / "run" / "recipe.resolved.toml").is_file() and "score" in out
    code, _, err = call_cli(monkeypatch, capsys, "eval", str(path), "--out", str(tmp_path / "again"))
    assert code == 0, err
    assert scores(eval_json(tmp_path / "again"), "score", "pack x2") == scores(summary, "score", "pack x2")


def test_zero_step_stage_points_at_eval(tmp_path, monkeypatch, capsys):
    path = tmp_path / "zero.toml"
    path.write_text(tomli_w.dumps(tiny_recipe("zero", stages=[{"name": "s", "steps": 0}])))
    code, _, err = call_cli(monkeypatch, capsys, "validate", str(path))
    assert code == 2
    assert "stages[0].steps" in err and "restorefw eval" in err and len(err.strip().splitlines()) == 1


def test_overwrite_only_replaces_an_evaluation_folder(registry, pack, tmp_path, monkeypatch, capsys):
    model = str(tiny_checkpoint(registry, tmp_path / "m.safetensors", 2))
    args = ("eval", model, str(pack), "--limit", "1", "--out", str(tmp_path / "ev"))
    assert call_cli(monkeypatch, capsys, *args)[0] == 0
    code, _, err = call_cli(monkeypatch, capsys, *args)
    assert code == 2 and "exists and is not empty" in err
    assert call_cli(monkeypatch, capsys, *args, "--overwrite")[0] == 0
    (tmp_path / "ev" / "notes.txt").write_text("mine")
    code, _, err = call_cli(monkeypatch, capsys, *args, "--overwrite")
    assert code == 2 and "notes.txt" in err and (tmp_path / "ev" / "notes.txt").is_file()


def test_ctrl_c_keeps_the_rows_so_far(registry, pack, tmp_path, monkeypatch, capsys):
    from restorefw.engine import _eval_job

    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    real = _eval_job.run_model
    monkeypatch.setattr(_eval_job, "run_model", interrupted)
    model = str(tiny_checkpoint(registry, tmp_path / "m.safetensors", 2))
    code, _, err = call_cli(monkeypatch, capsys, "eval", model, str(pack), "--out", str(tmp_path / "ev"))
    assert code == 130
    assert "rows scored so far are kept" in err and "not complete" in err
    rows = list(csv.DictReader((tmp_path / "ev" / "eval.csv").open()))
    assert [r["model"] for r in rows] == ["bicubic", "m", "bicubic"]
    assert not (tmp_path / "ev" / "eval.json").exists()
