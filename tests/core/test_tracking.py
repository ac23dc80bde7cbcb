"""A run logged to TensorBoard through an interrupt, a crash and two resumes; ``restorefw runs`` reading it back."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from restorefw import RunError
from restorefw.cli import cli
from restorefw.cli._common import run_cli
from restorefw.engine import RunFolder, Strategy, read_run
from restorefw.loggers import EVENTS_FILE
from restorefw.testing import tiny_recipe

STAGES = [{"name": "a", "steps": 6, "log_every": 1, "eval_every": 3, "save_every": 2, "optimizer": {"type": "adam"}},
          {"name": "b", "steps": 4, "log_every": 1, "eval_every": 2, "save_every": 2}]
RECIPE = tiny_recipe("tracked", data={"val": {"type": "skimage_samples", "images": ["chelsea"]}, "val_max_size": 32},
                     stages=STAGES, eval={"samples": 1})


def cli_run(monkeypatch: pytest.MonkeyPatch, *args: str | Path) -> int:
    """Run the command line in this process; returns the exit status."""
    monkeypatch.setattr(sys, "argv", ["restorefw", *map(str, args)])
    try:
        run_cli(cli)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def failing_at(stage: str, step: int, error: BaseException) -> Callable[..., Any]:
    """``Strategy.train_step`` raising ``error`` once, at ``(stage, step)``."""
    original, fired = Strategy.train_step, []

    def train_step(self: Strategy, ctx: Any, batch: Any) -> Any:
        if (ctx.stage, ctx.step) == (stage, step) and not fired:
            fired.append(True)
            raise error
        return original(self, ctx, batch)

    return train_step


@dataclass
class Story:
    root: Path
    run: Path
    codes: list[int]
    statuses: list[str]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    """``tracked``: Ctrl-C at a/3, resumed, crashed at b/3 (a checkpoint at b/2), resumed to the end.

    Besides it: ``killed`` (the state after the Ctrl-C, its last event lost as under kill -9),
    ``faster`` (the same recipe at a higher learning rate) and ``empty`` (created, nothing run).
    """
    root = tmp_path_factory.mktemp("runs")
    recipe = root / "tracked.toml"
    recipe.write_text(tomli_w.dumps(RECIPE))
    run, codes, statuses = root / "tracked", [], []
    with pytest.MonkeyPatch.context() as mp:
        for error, args in ((KeyboardInterrupt(), (recipe, "--out", run, "--logger", "tensorboard")),
                            (RunError("the disk is on fire"), ("--resume", run)), (None, ("--resume", run))):
            if error is not None:
                mp.setattr(Strategy, "train_step", failing_at("a" if not codes else "b", 3, error))
            codes.append(cli_run(mp, "run", *args, "--quiet"))
            mp.undo()
            statuses.append(read_run(run).status)
            if len(codes) == 1:
                shutil.copytree(run, root / "killed")
                events = (root / "killed" / EVENTS_FILE).read_text().splitlines()
                (root / "killed" / EVENTS_FILE).write_text("\n".join(events[:-1]) + "\n")
        assert cli_run(mp, "run", recipe, "--out", root / "faster", "--set", "stages[0].optimizer.lr=0.005",
                       "--quiet") == 0
    RunFolder(root / "empty").create()
    return Story(root, run, codes, statuses)


def test_tensorboard_holds_every_step_once_in_order_after_interrupt_crash_and_resume(story):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert story.codes == [130, 2, 0] and story.statuses == ["interrupted", "failed", "complete"]
    events = EventAccumulator(str(story.run / "logs" / "tensorboard"),
                              size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()
    steps = {tag: [e.step for e in events.Scalars(tag)] for tag in tags["scalars"]}
    for tag in ("train/loss", "train/lr", "speed/images_per_s"):
        assert steps[tag] == list(range(1, 11)), (tag, steps[tag])
    assert steps["val/psnr"] == steps["val/ssim"] == [3, 6, 8, 10]
    assert {tag: [e.step for e in events.Images(tag)] for tag in tags["images"]} == {"samples/chelsea": [6, 10]}
    assert "recipe/text_summary" in tags["tensors"]
    records = [json.loads(line) for line in (story.run / "metrics.jsonl").read_text().splitlines()]
    assert [r["global_step"] for r in records if "loss" in r] == list(range(1, 11))
    names = [json.loads(line)["event"] for line in (story.run / EVENTS_FILE).read_text().splitlines()]
    assert [n for n in names if n not in ("stage_start", "stage_end", "checkpoint")] == [
        "start", "interrupt", "resume", "error", "resume", "end"]


def test_runs_lists_each_status_with_progress_metrics_and_hash(story, monkeypatch, capsys):
    with RunFolder(story.root / "empty").lock():
        assert cli_run(monkeypatch, "runs", story.root, "--json") == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["runs"]}
    assert {name: row["status"] for name, row in rows.items()} == {
        "empty": "running", "faster": "complete", "killed": "resumable", "tracked": "complete"}
    assert read_run(story.root / "empty").status == "empty"
    assert (rows["tracked"]["stages_done"], rows["tracked"]["steps"], rows["tracked"]["total_steps"]) == (2, 10, 10)
    assert (rows["killed"]["stages_done"], rows["killed"]["steps"]) == (0, 3)
    assert {"psnr", "ssim", "loss"} <= set(rows["tracked"]["metrics"]) and rows["tracked"]["wall_time_s"] > 0
    # The loggers do not count: the same recipe gives the same hash with or without --logger.
    assert rows["tracked"]["recipe_hash"] == rows["killed"]["recipe_hash"] != rows["faster"]["recipe_hash"]
    assert cli_run(monkeypatch, "runs", story.root) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["run", "status", "stages", "steps", "final", "metrics", "wall", "time", "recipe"]
    assert table[4].startswith("tracked") and "complete" in table[4] and "10/10" in table[4]


def test_runs_show_names_the_samples(story, monkeypatch, capsys):
    assert cli_run(monkeypatch, "runs", "show", story.root / "killed") == 0
    out = capsys.readouterr().out
    assert "interrupted" not in out and "resumable" in out and f"restorefw run --resume {story.root / 'killed'}" in out
    assert cli_run(monkeypatch, "runs", "show", story.run) == 0
    out = capsys.readouterr().out
    assert f"samples:   {story.run / 'samples'} (2 pictures)" in out and str(story.run / "samples/b_chelsea.png") in out


def test_runs_compare_prints_the_differing_keys_and_writes_the_plots(story, tmp_path, monkeypatch, capsys):
    runs = (story.run, story.root / "faster")
    assert cli_run(monkeypatch, "runs", "compare", *runs, "--out", tmp_path / "cmp") == 0
    out = capsys.readouterr().out
    differing = {line.split()[0]: line.split()[1:] for line in out.split("\n\n")[0].splitlines()[2:]}
    assert differing == {"loggers[0]": ['{type', '=', '"tensorboard",', '...}', "(unset)"],
                         "stages[0].optimizer.lr": ["0.001", "0.005"]}
    assert "psnr" in out.split("final metrics:")[1].splitlines()[1]
    assert sorted(p.name for p in (tmp_path / "cmp").iterdir()) == ["loss.png", "val_psnr.png", "val_ssim.png"]
    assert cli_run(monkeypatch, "runs", "compare", *runs, "--out", tmp_path / "cmp") == 2
    assert "not overwriting" in capsys.readouterr().err
    assert cli_run(monkeypatch, "runs", "compare", *runs, "--out", tmp_path / "cmp", "--overwrite", "--json") == 0
    assert json.loads(capsys.readouterr().out)["differences"]["stages[0].optimizer.lr"] == [0.001, 0.005]
    monkeypatch.chdir(tmp_path)
    assert cli_run(monkeypatch, "runs", "compare", *runs) == 0
    assert len(list(tmp_path.glob("runs-compare-*/loss.png"))) == 1
