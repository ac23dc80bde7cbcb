"""End-to-end behaviour of the training loop on a tiny model (seconds, CPU)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from restorefw import RunError, resolve_recipe
from restorefw.engine import Runner, Strategy
from restorefw.weights import read_metadata

TINY = """
[run]
name = "tiny"
seed = 3
device = "cpu"
[data]
train = { type = "skimage_samples", images = ["camera", "coffee"] }
val = { type = "skimage_samples", images = ["chelsea"] }
patch_size = 24
batch_size = 2
val_max_size = 40
[task]
type = "denoise"
sigma = 25
[model]
type = "rescnn"
channels = 8
blocks = 1
[[stages]]
name = "a"
steps = 6
optimizer = { type = "adam", lr = 1e-2 }
log_every = 2
eval_every = 3
save_every = 2
[[stages]]
name = "b"
steps = 4
freeze = ["head", "body"]
scheduler = { type = "cosine" }
[eval]
samples = 1
"""


def run_tiny(registry, out: Path, text: str = TINY, resume: bool = False) -> dict:
    recipe = resolve_recipe(tomllib.loads(text), registry)
    return Runner(recipe, registry, out, quiet=True).run(resume=resume)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def test_run_folder_contents(registry, tmp_path):
    summary = run_tiny(registry, tmp_path / "r")
    out = tmp_path / "r"
    for name in ("recipe.resolved.toml", "metrics.jsonl", "summary.json", "checkpoints/last.safetensors",
                 "checkpoints/a-6.safetensors", "checkpoints/b-4.safetensors", "samples/b_chelsea.png",
                 "plots/loss.png", "plots/val_psnr.png"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "summary.json").read_text())
    assert saved["status"] == "complete" and saved["device"] == "cpu"
    assert set(saved["stages"]) == {"a", "b"}
    assert {"psnr", "ssim"} <= set(saved["stages"]["b"]["val"]) and "psnr" in saved["stages"]["b"]["input"]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["step"]) for r in records if "loss" in r] == [("a", 2), ("a", 4), ("a", 6),
                                                                          ("b", 4)]
    assert any("val_psnr" in r for r in records)
    meta = read_metadata(out / "checkpoints/last.safetensors")
    assert meta["model"]["type"] == "rescnn" and meta["stage"] == "b" and meta["step"] == 4
    assert summary["stages"]["a"]["steps"] == 6


def test_frozen_parts_do_not_change(registry, tmp_path):
    run_tiny(registry, tmp_path / "r")
    a, b = weights(tmp_path / "r/checkpoints/a-6.safetensors"), weights(tmp_path / "r/checkpoints/b-4.safetensors")
    for key in a:
        same = torch.equal(a[key], b[key])
        assert same == key.startswith(("head.", "body.")), key


def test_rerunning_resolved_recipe_gives_identical_weights(registry, tmp_path):
    run_tiny(registry, tmp_path / "one")
    resolved = (tmp_path / "one/recipe.resolved.toml").read_text()
    run_tiny(registry, tmp_path / "two", resolved)
    a = weights(tmp_path / "one/checkpoints/last.safetensors")
    b = weights(tmp_path / "two/checkpoints/last.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("stop_at", [("a", 3), ("b", 1)])
def test_interrupt_and_resume_is_exact(registry, tmp_path, monkeypatch, stop_at):
    run_tiny(registry, tmp_path / "ref")
    original = Strategy.train_step
    calls = {"n": 0}

    def interrupting(self, ctx, batch):
        if (ctx.stage, ctx.step) == stop_at and calls["n"] == 0:
            calls["n"] += 1
            raise KeyboardInterrupt
        return original(self, ctx, batch)

    monkeypatch.setattr(Strategy, "train_step", interrupting)
    from restorefw.engine import RunInterrupted

    with pytest.raises(RunInterrupted, match="--resume"):
        run_tiny(registry, tmp_path / "cut")
    assert not (tmp_path / "cut/summary.json").exists()
    text = (tmp_path / "cut/recipe.resolved.toml").read_text()
    run_tiny(registry, tmp_path / "cut", text, resume=True)
    ref = weights(tmp_path / "ref/checkpoints/last.safetensors")
    cut = weights(tmp_path / "cut/checkpoints/last.safetensors")
    assert all(torch.equal(ref[k], cut[k]) for k in ref)
    records = [json.loads(line) for line in (tmp_path / "cut/metrics.jsonl").read_text().splitlines()]
    steps = [(r["stage"], r["step"]) for r in records if "loss" in r]
    assert steps == [("a", 2), ("a", 4), ("a", 6), ("b", 4)]


def test_nan_loss_stops_with_stage_and_step(registry, tmp_path, monkeypatch):
    def nan_loss(self, model, batch, ctx):
        return torch.tensor(float("nan"), requires_grad=True), {}

    monkeypatch.setattr(Strategy, "compute_loss", nan_loss)
    with pytest.raises(RunError, match="non-finite loss in stage 'a' at step 0"):
        run_tiny(registry, tmp_path / "r")


def test_nan_skip_policy_counts_skipped_steps(registry, tmp_path, monkeypatch):
    def nan_loss(self, model, batch, ctx):
        return torch.tensor(float("nan"), requires_grad=True), {}

    monkeypatch.setattr(Strategy, "compute_loss", nan_loss)
    text = TINY.replace('name = "a"', 'name = "a"\nnan_policy = "skip"')
    text = text.replace('name = "b"', 'name = "b"\nnan_policy = "skip"')
    summary = run_tiny(registry, tmp_path / "r", text)
    assert summary["stages"]["a"]["skipped_steps"] == 6


def test_stage_loads_checkpoint_into_part(registry, tmp_path):
    run_tiny(registry, tmp_path / "r")
    source = tmp_path / "r/checkpoints/a-6.safetensors"
    text = TINY.replace('freeze = ["head", "body"]',
                        f'load = [{{ checkpoint = "{source}" }}]\nfreeze = ["head", "body"]')
    run_tiny(registry, tmp_path / "s", text)
    loaded, start = weights(source), weights(tmp_path / "s/checkpoints/b-4.safetensors")
    assert torch.equal(loaded["head.weight"], start["head.weight"])


def test_image_smaller_than_patch_is_a_clear_error(registry, tmp_path):
    from restorefw import DataError

    with pytest.raises(DataError, match="smaller than the training patch 4096"):
        run_tiny(registry, tmp_path / "r", TINY.replace("patch_size = 24", "patch_size = 4096"))


def test_gradient_accumulation_matches_the_mean_loss():
    from restorefw.engine import StepContext

    def make():
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
        return model, StepContext(model=model, loss_fn=None, optimizer=opt, scheduler=sched, task=None,
                                  device=torch.device("cpu"), precision="fp32", stage="s")

    x1, x2 = torch.randn(4, 3), torch.randn(4, 3)
    model, ctx = make()
    ctx.accumulate = 2
    for micro, x in enumerate((x1, x2)):
        ctx.micro = micro
        ctx.backward_and_step(model(x).pow(2).mean())
    ref, ref_ctx = make()
    ref_ctx.backward_and_step((ref(x1).pow(2).mean() + ref(x2).pow(2).mean()) / 2)
    assert torch.allclose(model.weight, ref.weight, atol=1e-7) and not torch.equal(model.weight, make()[0].weight)


def test_keep_last_n_prunes_intermediate_checkpoints(registry, tmp_path):
    text = TINY.replace('name = "tiny"', 'name = "tiny"\nkeep_last_n = 1').replace("save_every = 2", "save_every = 1")
    run_tiny(registry, tmp_path / "r", text)
    names = sorted(p.name for p in (tmp_path / "r/checkpoints").glob("a-*.safetensors"))
    assert names == ["a-5.safetensors", "a-6.safetensors"]


def test_keep_last_n_counts_only_the_stages_own_checkpoints(registry, tmp_path):
    """Stage ``a``'s pruning must not count ``a-b-<step>`` files, which belong to stage ``a-b``."""
    text = (TINY.replace('name = "tiny"', 'name = "tiny"\nkeep_last_n = 1').replace("save_every = 2", "save_every = 1")
            .replace('name = "b"', 'name = "a-b"'))
    checkpoints = tmp_path / "r" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "a-b-9.safetensors").write_bytes(b"")  # newer than any step of 'a' in the name order
    run_tiny(registry, tmp_path / "r", text)
    assert sorted(p.name for p in checkpoints.glob("a-[0-9]*.safetensors")) == ["a-5.safetensors", "a-6.safetensors"]


def test_auto_resume(tmp_path, monkeypatch):
    import sys

    from restorefw.cli import cli
    from restorefw.cli._common import run_cli

    recipe = tmp_path / "r.toml"
    recipe.write_text(TINY.replace("steps = 6", "steps = 3").replace("steps = 4", "steps = 2"))
    original, calls = Strategy.train_step, {"n": 0}

    def interrupt_once(self, ctx, batch):
        if ctx.stage == "b" and calls["n"] == 0:
            calls["n"] += 1
            raise KeyboardInterrupt
        return original(self, ctx, batch)

    monkeypatch.setattr(Strategy, "train_step", interrupt_once)
    argv = ["restorefw", "run", str(recipe), "--out", str(tmp_path / "run"), "--auto-resume", "--quiet"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as info:
        run_cli(cli)
    assert info.value.code == 130
    run_cli(cli)
    assert json.loads((tmp_path / "run/summary.json").read_text())["status"] == "complete"
    run_cli(cli)
    other = tmp_path / "other.toml"
    other.write_text(TINY)
    (tmp_path / "run/summary.json").unlink()
    monkeypatch.setattr(sys, "argv", [*argv[:2], str(other), *argv[3:]])
    with pytest.raises(SystemExit) as info:
        run_cli(cli)
    assert info.value.code == 2


def test_stage_with_its_own_data_and_reinitialised_part(registry, tmp_path):
    from restorefw.engine import BatchMaker

    text = TINY.replace('freeze = ["head", "body"]',
                        'freeze = ["body"]\nreinit = ["head"]\n'
                        'train = { type = "skimage_samples", images = ["rocket"] }')
    recipe = resolve_recipe(tomllib.loads(text), registry)
    assert recipe["stages"][1]["train"] == {"type": "skimage_samples", "images": ["rocket"]}
    maker = BatchMaker(recipe, registry, registry.build("dataset", recipe["data"]["train"]), None)
    assert [d.names for d in maker.datasets] == [["camera", "coffee"], ["rocket"]]
    run_tiny(registry, tmp_path / "r", text)
    a, b = weights(tmp_path / "r/checkpoints/a-6.safetensors"), weights(tmp_path / "r/checkpoints/b-4.safetensors")
    assert torch.equal(a["body.0.body.0.weight"], b["body.0.body.0.weight"])
    assert not torch.equal(a["head.weight"], b["head.weight"])


def test_a_strategy_without_loss_gets_no_loss_component(registry, tmp_path, monkeypatch):
    """uses_loss = False: the recipe's loss is not built, and calling ctx.loss_fn is a clear error."""
    from restorefw.testing import tiny_recipe

    built: list[str] = []
    build = registry.build
    monkeypatch.setattr(registry, "build", lambda kind, spec, *args: built.append(kind) or build(kind, spec, *args))
    monkeypatch.setattr(Strategy, "uses_loss", False)
    recipe = resolve_recipe(tiny_recipe("noloss"), registry)
    with pytest.raises(RunError, match="strategy 'supervised' of stage 's' declares uses_loss = False"):
        Runner(recipe, registry, tmp_path / "r", quiet=True).run()
    assert "strategy" in built and "loss" not in built


def test_prefetching_batches_changes_nothing(registry, tmp_path):
    """Batches made in a background thread are the ones the step would make itself."""
    from restorefw.testing import tiny_recipe

    stages = [{"name": "a", "steps": 3, "accumulate": 2}, {"name": "b", "steps": 2, "batch_size": 3}]
    finals = {}
    for prefetch in (False, True):
        recipe = resolve_recipe(tiny_recipe("pf", data={"prefetch": prefetch}, stages=stages), registry)
        Runner(recipe, registry, tmp_path / str(prefetch), quiet=True).run()
        finals[prefetch] = weights(tmp_path / str(prefetch) / "checkpoints/last.safetensors")
    assert all(torch.equal(finals[False][k], finals[True][k]) for k in finals[False])


def test_an_error_in_a_prefetched_batch_surfaces_in_the_run(registry, tmp_path, monkeypatch):
    from restorefw.engine import BatchMaker
    from restorefw.testing import tiny_recipe

    make = BatchMaker.make

    def failing(self, index, step, micro, pin=False, degrade=True):
        if step == 1:
            raise RunError("broken batch at step 1")
        return make(self, index, step, micro, pin, degrade)

    monkeypatch.setattr(BatchMaker, "make", failing)
    recipe = resolve_recipe(tiny_recipe("pf", data={"prefetch": True}), registry)
    with pytest.raises(RunError, match="broken batch at step 1"):
        Runner(recipe, registry, tmp_path / "r", quiet=True).run()


def test_prefetcher_makes_each_following_batch_once_in_its_thread():
    import threading

    from restorefw.engine import Prefetcher

    made: list[tuple[tuple[int, int, int], str]] = []

    class Maker:
        def make(self, index, step, micro, pin=False, degrade=True):
            made.append(((index, step, micro), threading.current_thread().name))
            return torch.full((1,), float(step)), torch.full((1,), float(micro))

    keys = [(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1)]
    with Prefetcher.running(Maker(), torch.device("cpu")) as prefetcher:  # type: ignore[arg-type]
        batches = [prefetcher(key, following) for key, following in zip(keys, [*keys[1:], None], strict=True)]
    assert [(b.lq.item(), b.target.item()) for b in batches] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [key for key, _ in made] == keys
    assert made[0][1] == threading.current_thread().name
    assert all(name.startswith("restorefw-batches") for _, name in made[1:])


def test_strategies_that_ignore_lq_skip_the_degradation(registry, tmp_path, monkeypatch):
    import dataclasses

    from restorefw.testing import tiny_recipe

    calls: list[int] = []
    recipe = resolve_recipe(tiny_recipe("nodeg", stages=[{"name": "s", "steps": 2}]), registry)
    runner = Runner(recipe, registry, tmp_path / "r", quiet=True)
    task = runner.batches.tasks[0]
    spy = dataclasses.replace(task, degradation=lambda x, g: calls.append(1) or task.degradation(x, g))
    runner.batches.tasks[0] = spy
    lq, target = runner.batches.make(0, 0, 0, degrade=False)
    assert torch.equal(lq, target) and not calls
    degraded, clean = runner.batches.make(0, 0, 0)
    assert calls == [1] and torch.equal(clean, target) and not torch.equal(degraded, clean)
    monkeypatch.setattr(Strategy, "uses_degradation", False)
    runner.run()
    assert calls == [1]
