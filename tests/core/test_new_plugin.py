"""``restorefw new-plugin``: a scaffold of every kind loads, validates in a recipe, follows the plugin's name,
installs through entry points and passes its own tests."""

from __future__ import annotations

import importlib
import json
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
import restorefw_ipt
from restorefw.cli import cli
from restorefw.cli.new_plugin import KINDS
from restorefw.engine import check_recipe
from restorefw.testing import tiny_recipe

BASE_RECIPE = tiny_recipe("scaffold", data={"patch_size": 16}, stages=[{"name": "train", "steps": 2}])

REGISTERED = {
    "dataset": {"dataset": ["{name}"]}, "degradation": {"degradation": ["{name}"]},
    "head_tail": {"head": ["{name}.head"], "tail": ["{name}.tail"]}, "kernel": {"kernel": ["{name}"]},
    "layout": {"layout": ["{name}"]}, "logger": {"logger": ["{name}"]},
    "loss": {"loss": ["{name}"]}, "metric": {"metric": ["{name}"]}, "model": {"model": ["{name}"]},
    "op": {}, "optimizer": {"optimizer": ["{name}"]}, "scheduler": {"scheduler": ["{name}"]},
    "strategy": {"strategy": ["{name}"]}, "task": {"task": ["{name}"]},
}
"""What each kind's example registers as a component (the op goes to the op registry)."""


def _scaffold(tmp_path: Path, name: str, *kinds: str) -> Path:
    out = tmp_path / name
    options = [a for kind in kinds for a in ("--kind", kind)]
    result = CliRunner().invoke(cli, ["new-plugin", name, *options, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'pyproject.toml'}" in result.output
    return out


@pytest.fixture
def fresh_modules() -> Any:
    """Forget the scaffolded packages afterwards, so no other test can see them."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("restorefw_demo"):
            del sys.modules[name]


def test_every_hook_kind_has_a_scaffold() -> None:
    from restorefw._manager import HOOK_KINDS

    scaffolded = {kind for spec in REGISTERED.values() for kind in spec} | {"op"}
    assert set(KINDS) == set(REGISTERED)
    assert {kind or "head" for kind in HOOK_KINDS.values()} | {"tail", "op"} == scaffolded


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_scaffold_loads_and_validates_in_a_recipe(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_modules: Any
) -> None:
    name = f"demo_{kind}"
    out = _scaffold(tmp_path, name, kind)
    package = f"restorefw_{name}"
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted([
        "README.md", "pyproject.toml", f"src/{package}/__init__.py", f"src/{package}/_{kind}.py",
        "tests/conftest.py", f"tests/test_{kind}.py"])
    project = tomllib.loads((out / "pyproject.toml").read_text())
    assert project["project"]["name"] == f"restorefw-{name.replace('_', '-')}"
    assert project["project"]["entry-points"]["restorefw"] == {name: package}
    assert "restorefw>=0.1" in project["project"]["dependencies"]

    monkeypatch.syspath_prepend(str(out / "src"))
    module = importlib.import_module(package)
    pm = restorefw.get_plugin_manager(load_entrypoints=False, plugins=[("basic", restorefw_basic),
                                                                      ("ipt", restorefw_ipt), (name, module)])
    registry = restorefw.build_registry(pm)
    restorefw.build_op_registry(pm)
    assert pm.failures == []
    expected = {k: [n.format(name=name) for n in names] for k, names in REGISTERED[kind].items()}
    assert pm.info[name].registered == expected
    for component_kind, names in expected.items():
        assert all(registry.get(component_kind, n).description.startswith(f"the {name} ") for n in names)

    # The README's recipe snippets, each merged into a small recipe, must validate and pass the contract probe.
    readme = (out / "README.md").read_text()
    snippets = re.findall(r"```toml\n(.*?)```", readme, re.S)
    assert len(snippets) == (0 if kind == "op" else 1), readme
    for snippet in snippets:
        resolved = restorefw.resolve_recipe({**BASE_RECIPE, **tomllib.loads(snippet)}, registry)
        assert name in repr(resolved)
        check_recipe(resolved, registry)


def test_names_and_texts_follow_the_plugins_name(tmp_path: Path) -> None:
    out = _scaffold(tmp_path, "fog", "degradation", "metric", "degradation")
    package = out / "src" / "restorefw_fog"
    assert sorted(p.name for p in package.iterdir()) == ["__init__.py", "_degradation.py", "_metric.py"]
    init = (package / "__init__.py").read_text()
    assert "restorefw-fog: the fog degradation and metric." in init
    assert "from restorefw_fog._degradation import FogDegradation, FogDegradationConfig, register_degradations" in init
    text = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "class FogDegradation:" in text and 'register("fog", FogDegradation' in text
    assert "salt-and-pepper" not in text.lower() and "demo" not in text


def _install(out: Path, name: str) -> Path:
    """What ``pip install -e`` leaves behind, as far as importlib.metadata can tell: a dist-info folder
    with the scaffold's entry points beside its package."""
    project = tomllib.loads((out / "pyproject.toml").read_text())["project"]
    info = out / "src" / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    points = "".join(f"{k} = {v}\n" for k, v in project["entry-points"]["restorefw"].items())
    (info / "entry_points.txt").write_text(f"[restorefw]\n{points}")
    return out / "src"


def test_a_scaffold_of_every_kind_installs_and_passes_its_own_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_modules: Any
) -> None:
    name = "demo_all"
    out = _scaffold(tmp_path, name, "all")
    assert {p.name for p in (out / "tests").iterdir()} == {"conftest.py", *(f"test_{k}.py" for k in KINDS)}
    site = _install(out, name)
    monkeypatch.syspath_prepend(str(site))
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)["plugins"]}
    assert rows[name]["status"] == "ok" and rows[name]["distribution"] == "restorefw-demo-all"
    expected: dict[str, list[str]] = {}
    for spec in REGISTERED.values():
        for kind, names in spec.items():
            expected.setdefault(kind, []).extend(n.format(name=name) for n in names)
    assert rows[name]["registered"] == expected and "register_ops" in rows[name]["hooks"]

    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(out / "tests")],
                         capture_output=True, text=True, cwd=out, env=env, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    passed = re.search(r"\b(\d+) passed\b", run.stdout)
    assert passed and int(passed[1]) >= 2 * len(KINDS), run.stdout[-500:]  # at least two tests per kind


def test_refuses_a_non_empty_directory_a_bad_name_and_an_unknown_kind(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    runner = CliRunner()
    result = runner.invoke(cli, ["new-plugin", "ok", "--out", str(tmp_path / "taken")])
    assert result.exit_code == 2 and "already exists" in result.output
    result = runner.invoke(cli, ["new-plugin", "Bad Name", "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "invalid plugin name" in result.output
    result = runner.invoke(cli, ["new-plugin", "ok", "--kind", "haze", "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "'haze' is not one of" in result.output
    assert not (tmp_path / "bad").exists()


def test_default_output_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["new-plugin", "my_noise"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "restorefw-my-noise" / "src" / "restorefw_my_noise" / "_degradation.py").is_file()


def test_templates_are_package_data() -> None:
    root = Path(__file__).resolve().parents[2]
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["restorefw.cli"]
    cli_dir = root / "core" / "restorefw" / "cli"
    shipped = {p for pattern in patterns for p in cli_dir.glob(pattern)}
    templates = set((cli_dir / "_templates").iterdir())
    assert templates and templates <= shipped
    assert {f"{p}{kind}.py.tmpl" for kind in KINDS for p in ("", "test_")} <= {p.name for p in templates}
