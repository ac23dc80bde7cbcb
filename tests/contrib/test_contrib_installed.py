"""The contrib distributions are installed and found through their entry points, like any third party."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import restorefw

ROOT = Path(__file__).resolve().parents[2]

CONTRIB = {
    "jpeg": ("restorefw-jpeg", {"degradation": ["jpeg"], "task": ["dejpeg"]}),
    "motion_blur": ("restorefw-motion-blur", {"kernel": ["motion_blur"]}),
    "mlflow": ("restorefw-mlflow", {"logger": ["mlflow"]}),
}
RECIPES = ["contrib/restorefw-jpeg/recipes/dejpeg_quick.toml",
           "contrib/restorefw-motion-blur/recipes/deblur_motion_quick.toml"]


@pytest.mark.parametrize("name", sorted(CONTRIB))
def test_registered_through_its_entry_point(name: str) -> None:
    distribution, registered = CONTRIB[name]
    points = {ep.name: ep for ep in metadata.entry_points(group="restorefw")}
    assert name in points, f"{distribution} is not installed: pip install -e contrib/{distribution}"
    assert points[name].dist is not None and points[name].dist.name == distribution
    pm = restorefw.get_plugin_manager(only=[name])
    registry = restorefw.build_registry(pm)
    assert pm.failures == []
    info = pm.info[name]
    assert (info.distribution, info.registered) == (distribution, registered)
    for kind, names in registered.items():
        assert all(registry.get(kind, n).distribution == distribution for n in names)


def test_listed_by_the_plugins_command() -> None:
    result = subprocess.run([sys.executable, "-m", "restorefw", "plugins", "--json"],
                            capture_output=True, text=True, check=True)
    rows = {row["name"]: row for row in json.loads(result.stdout)["plugins"]}
    for name, (distribution, registered) in CONTRIB.items():
        assert rows[name]["distribution"] == distribution and rows[name]["status"] == "ok"
        assert rows[name]["registered"] == registered


@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: Path(r).stem)
def test_quick_recipe_runs(recipe: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "restorefw", "run", str(ROOT / recipe), "--out", str(out),
         "--set", "stages[0].steps=3", "--set", "stages[0].eval_every=3", "--set", "data.val_max_size=64"],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["stages"]["train"]["steps"] == 3


def test_test_module_names_are_unique() -> None:
    # pytest imports test modules without packages by basename: two contrib tests/test_plugin.py would clash.
    names = [p.name for top in ("tests", "contrib") for p in (ROOT / top).rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
