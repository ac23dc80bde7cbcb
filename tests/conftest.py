"""Shared fixtures: a registry of the installed plugins, built once per session; the CLI run in-process;
precision gaps."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

import restorefw


@pytest.fixture(scope="session")
def registry() -> restorefw.Registry:
    """Registry of every installed plugin (first-party ones included)."""
    return restorefw.build_registry(restorefw.get_plugin_manager())


@pytest.fixture(scope="session")
def precision_gap() -> Callable[[nn.Module, Tensor, str], tuple[float, float]]:
    """``gap(model, x, precision)``: max and mean ``|model(x) under autocast - model(x) in fp32|`` on the CPU.

    The model runs in eval mode without autograd, as restoration and evaluation run it.
    """
    from restorefw.engine import autocast

    def gap(model: nn.Module, x: Tensor, precision: str) -> tuple[float, float]:
        model.eval()
        with torch.inference_mode():
            expected = model(x)
            with autocast(torch.device("cpu"), precision):
                out = model(x)
        assert torch.isfinite(out).all()
        diff = (out.float() - expected).abs()
        return diff.max().item(), diff.mean().item()

    return gap


@pytest.fixture
def cli_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    """``restorefw ARGS...`` in this process, as the console script runs it (user errors exit 2):
    returns the exit status and stdout + stderr."""
    from restorefw.cli import cli
    from restorefw.cli._common import run_cli

    def invoke(*args: object) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["restorefw", *map(str, args)])
        try:
            run_cli(cli)
            status = 0
        except SystemExit as exc:
            status = int(exc.code or 0)
        captured = capsys.readouterr()
        return status, captured.out + captured.err

    return invoke
