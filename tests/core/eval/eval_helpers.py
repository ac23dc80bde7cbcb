"""Helpers of the evaluation tests: the command line in-process, tiny checkpoints, tiny images."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from restorefw._registry import Registry
from restorefw.cli import cli
from restorefw.cli._common import run_cli
from restorefw.weights import save_weights


def call_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Runs ``restorefw ARGS`` in this process as the console script does: ``(exit code, stdout, stderr)``."""
    monkeypatch.setattr(sys, "argv", ["restorefw", *args])
    code = 0
    try:
        run_cli(cli)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def tiny_checkpoint(registry: Registry, path: Path, scale: int = 1, seed: int = 0,
                    task: dict[str, Any] | None = None) -> Path:
    """A 4-channel ``rescnn`` of the given scale, saved with its spec (and a task) in the metadata."""
    spec = registry.resolve("model", {"type": "rescnn", "channels": 4, "blocks": 1, "scale": scale})
    torch.manual_seed(seed)
    model = registry.build("model", spec)
    for param in model.parameters():  # the tail starts at zero; make every layer do something
        torch.nn.init.normal_(param, std=0.05)
    save_weights(path, model.state_dict(), {"model": spec, **({"task": task} if task else {})})
    return path


def png(path: Path, height: int, width: int, seed: int = 0) -> Path:
    """A random 8-bit RGB PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def eval_json(folder: Path) -> dict[str, Any]:
    """The ``eval.json`` of an evaluation folder."""
    return json.loads((folder / "eval.json").read_text())


def scores(summary: dict[str, Any], row: str, column: str) -> dict[str, float]:
    """The mean scores of one row in one test-set column."""
    return next(r for r in summary["rows"] if r["name"] == row)["scores"][column]
