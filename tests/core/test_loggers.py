"""Loggers: the built-in ones pass the kit; a broken or slow logger is reported, disabled and costs the run nothing."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

import restorefw_basic
from restorefw import RecipeError, hookimpl, resolve_recipe
from restorefw._recipe import as_recipe
from restorefw.engine import Runner
from restorefw.engine import _tracking as tracking
from restorefw.loggers import EVENTS_FILE, Logger, Step
from restorefw.testing import ContractError, check_logger, registry_with, tiny_recipe

RECIPE = tiny_recipe("logged", data={"val": {"type": "skimage_samples", "images": ["chelsea"]}, "val_max_size": 32},
                     stages=[{"name": "a", "steps": 4, "log_every": 1, "eval_every": 2, "save_every": 2}])


def read_jsonl(folder: Path) -> dict[str, list[int]]:
    """The global step of every value in ``metrics.jsonl``, by name, in file order."""
    tags: dict[str, list[int]] = {}
    for line in (folder / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        for key in record.keys() - {"stage", "step", "global_step"}:
            tags.setdefault(key, []).append(record["global_step"])
    return tags


def read_tensorboard(folder: Path) -> dict[str, list[int]]:
    """The step of every scalar in the run's TensorBoard event files, by tag, as TensorBoard shows them."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder / "logs" / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return {tag: [e.step for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


class Exploding(Logger):
    """Raises on the first training record."""

    def scalars(self, at: Step, values: Any, group: str) -> None:
        raise OSError("the tracking server went away")


class Blocking(Logger):
    """Holds every call until the test releases it."""

    def __init__(self) -> None:
        self.release, self.calls = threading.Event(), []

    def scalars(self, at: Step, values: Any, group: str) -> None:
        self.release.wait(30)
        self.calls.append((at.global_step, group))


class LoggerPlugin:
    """A third-party plugin with a logger that raises and one whose factory fails."""

    name = "shaky"

    @hookimpl
    def register_loggers(self, register: Any) -> None:
        register("exploding", Exploding, license="MIT")
        register("unbuildable", self.unbuildable, license="MIT")

    @staticmethod
    def unbuildable() -> Logger:
        raise ModuleNotFoundError("No module named 'tracker_sdk'")


@pytest.fixture(scope="module")
def registry() -> Any:
    return registry_with(restorefw_basic, LoggerPlugin())


def test_builtin_loggers_pass_the_conformance_kit(registry):
    check_logger(registry, "jsonl", read_scalars=read_jsonl)
    check_logger(registry, "tensorboard", read_scalars=read_tensorboard)


def test_the_kit_catches_a_logger_that_raises(registry):
    with pytest.raises(ContractError, match=r"logger 'exploding' \(plugin 'shaky'\): scalars\(\) raised OSError"):
        check_logger(registry, "exploding")


@pytest.fixture(scope="module")
def plain(registry: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run with the built-in loggers only."""
    out = tmp_path_factory.mktemp("plain") / "run"
    Runner(resolve_recipe(RECIPE, registry), registry, out, quiet=True).run()
    return out


def test_broken_loggers_are_reported_once_and_the_run_ends_with_the_same_weights(registry, plain, tmp_path, capsys):
    shaky = {**RECIPE, "loggers": ["exploding", "unbuildable", "exploding"]}
    Runner(resolve_recipe(shaky, registry), registry, tmp_path / "shaky", quiet=True).run()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2, lines
    assert "logger 'unbuildable' from plugin 'shaky'" in lines[0] and "tracker_sdk" in lines[0]
    assert "logger 'exploding' from plugin 'shaky'" in lines[1] and "scalars() raised OSError" in lines[1]
    assert all("disabled; the run goes on" in line for line in lines)
    expected, got = (load_file(str(out / "checkpoints/last.safetensors")) for out in (plain, tmp_path / "shaky"))
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert (plain / "metrics.jsonl").read_text() == (tmp_path / "shaky/metrics.jsonl").read_text()


def test_metrics_jsonl_holds_no_wall_clock_values_and_events_are_logged(plain):
    records = [json.loads(line) for line in (plain / "metrics.jsonl").read_text().splitlines()]
    assert all(set(r) <= {"stage", "step", "global_step", "loss", "lr", "val_psnr", "val_ssim"} for r in records)
    events = [json.loads(line) for line in (plain / EVENTS_FILE).read_text().splitlines()]
    assert [(e["event"], e["global_step"]) for e in events] == [
        ("start", 0), ("stage_start", 0), ("checkpoint", 2), ("stage_end", 4), ("checkpoint", 4), ("end", 4)]


def test_missing_tensorboard_package_is_reported_with_the_install_hint(registry, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    Runner(resolve_recipe({**RECIPE, "loggers": ["tensorboard"]}, registry), registry, tmp_path / "r", quiet=True).run()
    err = capsys.readouterr().err
    assert "logger 'tensorboard' from plugin 'core'" in err and "pip install 'restorefw[tensorboard]'" in err
    assert (tmp_path / "r/summary.json").is_file()


def test_unknown_logger_is_a_recipe_error_with_a_suggestion(registry):
    with pytest.raises(RecipeError) as caught:
        resolve_recipe({**RECIPE, "loggers": [{"type": "tensorbord"}]}, registry)
    assert caught.value.problems[0][0] == "loggers[0].type" and "did you mean 'tensorboard'" in str(caught.value)


def test_a_slow_logger_holds_up_nothing_and_a_stuck_one_is_dropped(tmp_path, monkeypatch):
    reports: list[str] = []
    blocking = Blocking()
    registry = registry_with(restorefw_basic)
    registry.register("logger", "blocking", lambda: blocking)
    tracker = tracking.Tracker.for_run(registry, [{"type": "blocking"}], report=reports.append)
    with tracker.session(as_recipe(resolve_recipe(RECIPE, registry)), tmp_path, None):
        for step in range(1, 4):
            tracker.scalars(Step("s", step, step), {"loss": 1.0})  # returns while the logger is still blocked
        assert blocking.calls == []
        blocking.release.set()
        tracker.flush()
        assert [call for call in blocking.calls if call[1] == "train"] == [(1, "train"), (2, "train"), (3, "train")]
        blocking.release.clear()
        monkeypatch.setattr(tracking, "FLUSH_TIMEOUT_S", 0.2)
        tracker.scalars(Step("s", 4, 4), {"loss": 1.0})
        tracker.flush()  # gives up after 0.2 s
    assert len(reports) == 1 and "logger 'blocking'" in reports[0] and "a flush took longer than 0.2 s" in reports[0]
    blocking.release.set()

