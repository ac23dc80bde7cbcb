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


@pytest.mark.parametrize(("module", "planted", "reported"), [
    # a floor importing one above it
    ("core/restorefw/_errors.py", "from restorefw.engine import Runner", "restorefw._errors -> restorefw.engine"),
    # a plugin importing a private module of the core
    ("plugins/restorefw_ddep/_hooks.py", "from restorefw._registry import Registry",
     "restorefw_ddep._hooks -> restorefw._registry"),
    # a cycle between two modules of a plugin
    ("plugins/restorefw_restormer/_streaming.py", "from restorefw_restormer._arch import Restormer",
     "No import cycles between sibling modules"),
], ids=["upward", "private", "cycle"])
def test_a_planted_import_breaks_a_contract(tree: Path, module: str, planted: str, reported: str) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{planted}  # planted\n")
    result = _lint(tree)
    assert result.returncode != 0 and "Broken contracts" in result.stdout
    assert reported in result.stdout.split("Broken contracts", 1)[1]
