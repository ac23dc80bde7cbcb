"""Runs survive being killed, numerical faults and malformed recipes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import tomli_w
import torch
from safetensors.torch import load_file

from restorefw.cli import cli
from restorefw.cli._common import run_cli
from restorefw.testing import tiny_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPE = tomli_w.dumps(tiny_recipe(
    "kill", run={"threads": 1}, data={"train": {"type": "skimage_samples", "images": ["camera", "coffee"]}},
    stages=[{"name": "a", "steps": 30, "save_every": 1, "optimizer": {"type": "adam", "lr": 1e-2}},
            {"name": "b", "steps": 10, "scheduler": {"type": "cosine"}}]))


def _run(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "restorefw", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_sigkill_then_resume_gives_identical_weights(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE)
    assert _run("run", str(recipe), "--out", str(tmp_path / "ref"), "--quiet").wait(timeout=300) == 0
    proc = _run("run", str(recipe), "--out", str(tmp_path / "cut"), "--quiet")
    deadline = time.monotonic() + 120
    while not (tmp_path / "cut/checkpoints/a-12.safetensors").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "cut/summary.json").exists()
    resumed = _run("run", "--resume", str(tmp_path / "cut"), "--quiet")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    ref = load_file(str(tmp_path / "ref/checkpoints/last.safetensors"))
    cut = load_file(str(tmp_path / "cut/checkpoints/last.safetensors"))
    assert all(torch.equal(ref[k], cut[k]) for k in ref)


def test_nan_at_step_k_exits_non_zero_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch, capsys, registry):
    from restorefw._builder import load_model
    from restorefw.engine import Strategy

    original = Strategy.compute_loss

    def nan_at_3(self, model, batch, ctx):
        loss, logs = original(self, model, batch, ctx)
        return (loss * float("nan"), logs) if ctx.step == 3 else (loss, logs)

    monkeypatch.setattr(Strategy, "compute_loss", nan_at_3)
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE)
    monkeypatch.setattr(sys, "argv", ["restorefw", "run", str(recipe), "--out", str(tmp_path / "run"), "--quiet"])
    with pytest.raises(SystemExit) as info:
        run_cli(cli)
    assert info.value.code == 2
    assert "non-finite loss in stage 'a' at step 3" in capsys.readouterr().err
    model, meta = load_model(str(tmp_path / "run/checkpoints/last.safetensors"), registry)
    assert meta["step"] == 3 and not (tmp_path / "run/summary.json").exists()


def _set(data: dict, path: list, value) -> None:
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value


_DELETE = object()


def _mutations() -> list[tuple[str, bytes, str]]:
    """(id, file bytes, text the error must contain) for mutations of the shipped recipes."""
    rng = random.Random(0)
    cases = []
    for path in sorted((ROOT / "recipes").glob("*.toml")):
        text = path.read_text()
        structured = [
            (["stages", 0, "steps"], "many", "stages[0].steps"),
            (["stages", 0, "steps"], -5, "stages[0].steps"),
            (["run", "seeed"], 1, "run.seeed"),
            (["data", "batch_size"], 0, "data.batch_size"),
            (["model", "type"], "no_such_model", "model.type"),
            (["stages", 0, "optimizer"], {"type": "adam", "lr": "fast"}, "stages[0].optimizer.lr"),
            (["stages", 0, "bogus_key"], True, "stages[0].bogus_key"),
            (["model", "unexpected_param"], 3, "model.unexpected_param"),
            (["task"], _DELETE, "task"),
            (["stages"], [], "stages"),
        ]
        for target, value, expected in rng.sample(structured, 4):
            mutated = tomllib.loads(text)
            _set(mutated, target, value)
            cases.append((f"{path.stem}:{expected}", tomli_w.dumps(mutated).encode(), expected))
        cut = rng.randrange(len(text) // 4, len(text) // 2)
        cases.append((f"{path.stem}:broken", (text[:cut] + "\n[[stages\nx = = 1\n").encode(), "TOML syntax error"))
        cases.append((f"{path.stem}:bytes", text.encode()[:40] + b"\xff\xfe\x80" + text.encode()[40:],
                      "cannot read recipe"))
    return cases


MUTATIONS = _mutations()


def test_at_least_30_mutations():
    assert len(MUTATIONS) >= 30


@pytest.mark.parametrize("case", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_malformed_recipes_exit_2_without_traceback(case, tmp_path, monkeypatch, capsys):
    name, content, expected = case
    recipe = tmp_path / "bad.toml"
    recipe.write_bytes(content)
    out = tmp_path / "run"
    for argv in (["validate", str(recipe)], ["run", str(recipe), "--out", str(out), "--quiet"]):
        monkeypatch.setattr(sys, "argv", ["restorefw", *argv])
        with pytest.raises(SystemExit) as info:
            run_cli(cli)
        err = capsys.readouterr().err
        assert info.value.code == 2, (name, err)
        assert expected in err and "bad.toml" in err, (name, err)
        assert "Traceback" not in err
        assert not out.exists()


SIGNALLED = tomli_w.dumps(tiny_recipe(
    "signals", run={"threads": 1, "autosave_minutes": 0},
    data={"train": {"type": "skimage_samples", "images": ["camera", "coffee"]}, "patch_size": 48, "batch_size": 4},
    stages=[{"name": "a", "steps": 150, "log_every": 1}]))


def _wait_for(condition, proc: subprocess.Popen[str], what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc.poll() is None and time.monotonic() < deadline, f"the run ended before {what}"
        time.sleep(0.02)


@pytest.mark.slow
def test_sigusr1_saves_and_sigterm_stops_with_a_resumable_checkpoint(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(SIGNALLED)
    assert _run("run", str(recipe), "--out", str(tmp_path / "ref"), "--quiet").wait(timeout=300) == 0
    cut = tmp_path / "cut"
    proc = _run("run", str(recipe), "--out", str(cut), "--quiet")
    metrics = cut / "metrics.jsonl"
    _wait_for(lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 5, proc, "it logged 5 steps")
    os.kill(proc.pid, signal.SIGUSR1)
    _wait_for(lambda: any((cut / "checkpoints").glob("a-*.safetensors")), proc, "SIGUSR1 saved a checkpoint")
    assert proc.poll() is None, "SIGUSR1 must not stop the run"
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "stopped by SIGTERM" in err and "restorefw run --resume" in err and "Traceback" not in err
    assert (cut / "checkpoints/last.state.pt").exists() and not (cut / "summary.json").exists()
    resumed = _run("run", "--resume", str(cut), "--quiet")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    ref = load_file(str(tmp_path / "ref/checkpoints/last.safetensors"))
    got = load_file(str(cut / "checkpoints/last.safetensors"))
    assert all(torch.equal(ref[k], got[k]) for k in ref)


@pytest.mark.slow
def test_a_second_process_on_the_same_folder_is_refused_naming_the_first(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(SIGNALLED.replace("steps = 150", "steps = 100000"))
    out = tmp_path / "run"
    first = _run("run", str(recipe), "--out", str(out), "--quiet")
    metrics = out / "metrics.jsonl"
    _wait_for(lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 2, first, "it logged 2 steps")
    for flag in ("--auto-resume", "--overwrite"):
        second = _run("run", str(recipe), "--out", str(out), "--quiet", flag)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2 and f"in use by another restorefw process (PID {first.pid})" in err, err
    assert first.poll() is None and (out / "metrics.jsonl").is_file()
    os.kill(first.pid, signal.SIGTERM)
    assert first.wait(timeout=120) == 143
