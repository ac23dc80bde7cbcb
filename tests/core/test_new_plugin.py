"""``restorefw new-plugin``: the scaffold loads, validates in a recipe and passes its own tests."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import restorefw
import restorefw_basic
from restorefw.cli import cli
from restorefw.cli.new_plugin import KINDS
from restorefw.testing import tiny_recipe

BASE_RECIPE = tiny_recipe("scaffold", data={"patch_size": 16}, stages=[{"name": "train", "steps": 2}])


def _scaffold(tmp_path: Path, kind: str) -> tuple[Path, str]:
    name = f"demo_{kind}"
    out = tmp_path / kind
    result = CliRunner().invoke(cli, ["new-plugin", name, "--kind", kind, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'pyproject.toml'}" in result.output
    return out, name


@pytest.fixture
def fresh_modules() -> Any:
    """Forget the scaffolded packages afterwards, so no other test can see them."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("restorefw_demo_"):
            del sys.modules[name]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_scaffold_loads_and_validates_in_a_recipe(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_modules: Any
) -> None:
    out, name = _scaffold(tmp_path, kind)
    package = f"restorefw_{name}"
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "README.md", "pyproject.toml", f"src/{package}/__init__.py", "tests/test_plugin.py"]

    project = tomllib.loads((out / "pyproject.toml").read_text())
    assert project["project"]["name"] == f"restorefw-{name.replace('_', '-')}"
    assert project["project"]["entry-points"]["restorefw"] == {name: package}
    assert "restorefw>=0.1" in project["project"]["dependencies"]

    monkeypatch.syspath_prepend(str(out / "src"))
    module = importlib.import_module(package)
    pm = restorefw.get_plugin_manager(load_entrypoints=False, plugins=[("basic", restorefw_basic), (name, module)])
    registry = restorefw.build_registry(pm)
    assert pm.failures == []
    assert pm.info[name].registered == {kind: [name]}

    # The README's recipe snippet, merged into a small recipe, must validate.
    snippet = re.search(r"```toml\n(.*?)```", (out / "README.md").read_text(), re.S)
    assert snippet is not None
    recipe = {**BASE_RECIPE, **tomllib.loads(snippet.group(1))}
    resolved = restorefw.resolve_recipe(recipe, registry)
    assert name in repr(resolved)


def test_scaffolds_pass_their_generated_tests(tmp_path: Path) -> None:
    outs = [_scaffold(tmp_path, kind)[0] for kind in sorted(KINDS)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(o / "src") for o in outs), "OMP_NUM_THREADS": "1"}
    # One interpreter for all of them: every scaffold has a tests/test_plugin.py, hence importlib mode.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
         *(str(o / "tests") for o in outs)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"{3 * len(outs)} passed" in result.stdout


def test_refuses_a_non_empty_directory_and_a_bad_name(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    runner = CliRunner()
    result = runner.invoke(cli, ["new-plugin", "ok", "--out", str(tmp_path / "taken")])
    assert result.exit_code == 2 and "already exists" in result.output
    result = runner.invoke(cli, ["new-plugin", "Bad Name", "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "invalid plugin name" in result.output
    assert not (tmp_path / "bad").exists()


def test_default_output_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["new-plugin", "my_noise"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "restorefw-my-noise" / "src" / "restorefw_my_noise" / "__init__.py").is_file()


def test_templates_are_package_data() -> None:
    root = Path(__file__).resolve().parents[2]
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["restorefw.cli"]
    cli_dir = root / "core" / "restorefw" / "cli"
    shipped = {p for pattern in patterns for p in cli_dir.glob(pattern)}
    templates = set((cli_dir / "_templates").iterdir())
    assert templates and templates <= shipped
    assert {f"{kind}.py.tmpl" for kind in KINDS} <= {p.name for p in templates}
