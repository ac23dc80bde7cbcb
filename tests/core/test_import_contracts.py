"""The import contracts in pyproject.toml hold, and they do catch a floor that imports upwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
pytestmark = pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is not installed (pip install '.[test]')")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the packages in ``tree`` (core/ and plugins/), with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree / "core"), str(tree / "plugins")])}
    return subprocess.run([LINT_IMPORTS, "--config", str(tree / "pyproject.toml"), "--no-cache"], cwd=tree,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the sources, to plant bad imports in."""
    for name in ("core", "plugins"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_contracts_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def test_an_upward_import_breaks_the_floors(tree: Path) -> None:
    errors = tree / "core/restorefw/_errors.py"
    errors.write_text(errors.read_text() + "\nfrom restorefw.engine import Runner  # planted\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "restorefw._errors -> restorefw.engine" in result.stdout


def test_a_plugin_importing_a_private_core_module_is_caught(tree: Path) -> None:
    hooks = tree / "plugins/restorefw_ddep/_hooks.py"
    hooks.write_text(hooks.read_text() + "\nfrom restorefw._registry import Registry  # planted\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "restorefw_ddep._hooks -> restorefw._registry" in result.stdout


def test_a_cycle_between_plugin_modules_is_caught(tree: Path) -> None:
    streaming = tree / "plugins/restorefw_restormer/_streaming.py"
    streaming.write_text(streaming.read_text() + "\nfrom restorefw_restormer._arch import Restormer  # planted\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "No import cycles" in result.stdout and "BROKEN" in result.stdout
