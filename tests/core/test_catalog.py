"""registry.toml, the plugin catalog, against what is installed, declared and registered."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

import restorefw
from restorefw._manager import PluginManager

ROOT = Path(__file__).resolve().parents[2]


class CatalogEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    distribution: str = Field(min_length=1)
    entry_point: str = Field(pattern=r"^[A-Za-z_][\w.]*(:[\w.]+)?$")
    kinds: list[str] = Field(min_length=1)
    license: str = Field(min_length=1)
    origin: Literal["first_party", "contrib", "third_party"]
    path: str | None = None
    description: str = Field(min_length=1)


def _canonical(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


CATALOG = [CatalogEntry(**p) for p in tomllib.loads((ROOT / "registry.toml").read_text())["plugin"]]
INSTALLED = {ep.name: ep for ep in metadata.entry_points(group="restorefw")}
ROOT_ENTRY_POINTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["restorefw"]


@pytest.fixture(scope="module")
def manager() -> PluginManager:
    pm = restorefw.get_plugin_manager(only=list(INSTALLED))
    restorefw.build_registry(pm)
    return pm


def test_catalog_is_well_formed() -> None:
    names = [p.name for p in CATALOG]
    assert len(names) == len(set(names)), "duplicate plugin names"
    for plugin in CATALOG:
        assert set(plugin.kinds) <= {*restorefw.KINDS, "op", "weights"}, f"{plugin.name}: unknown kinds"
        assert plugin.kinds == sorted(set(plugin.kinds)), f"{plugin.name}: kinds must be sorted and unique"
        assert (plugin.path is None) == (plugin.origin == "third_party"), f"{plugin.name}: path goes with the origin"
        if plugin.origin == "first_party":
            assert plugin.distribution == "restorefw" and plugin.path == f"plugins/{plugin.entry_point}"


def test_every_installed_plugin_is_catalogued() -> None:
    missing = sorted(set(INSTALLED) - {p.name for p in CATALOG})
    assert not missing, f"installed plugins missing from registry.toml: {missing}"


def test_root_distribution_declares_exactly_the_first_party_plugins() -> None:
    first_party = {p.name: p.entry_point for p in CATALOG if p.origin == "first_party" and (ROOT / p.path).is_dir()}
    assert ROOT_ENTRY_POINTS == first_party


@pytest.mark.parametrize("plugin", CATALOG, ids=[p.name for p in CATALOG])
def test_catalog_entry_matches_the_installation(plugin: CatalogEntry, manager: PluginManager) -> None:
    if plugin.path is not None and not (ROOT / plugin.path).is_dir():
        if plugin.origin == "first_party":
            pytest.skip(f"{plugin.path} is not in this checkout yet (plugin '{plugin.name}' being written)")
        pytest.fail(f"stale catalog entry '{plugin.name}': {plugin.path} does not exist")
    if plugin.origin == "contrib":
        project = tomllib.loads((ROOT / plugin.path / "pyproject.toml").read_text())["project"]
        assert project["name"] == plugin.distribution
        assert project["entry-points"]["restorefw"] == {plugin.name: plugin.entry_point}
    if plugin.name not in INSTALLED:
        if plugin.origin == "first_party":
            pytest.fail(f"first-party plugin '{plugin.name}' is not installed: run `pip install -e .`")
        pytest.skip(f"{plugin.origin} plugin '{plugin.name}' is not installed (pip install -e {plugin.path})")
    ep = INSTALLED[plugin.name]
    assert ep.value == plugin.entry_point
    assert ep.dist is not None and _canonical(ep.dist.name) == _canonical(plugin.distribution)
    failures = [f.error for f in manager.failures if f.name == plugin.name]
    assert not failures, f"plugin '{plugin.name}' failed to load: {failures}"
    from restorefw import build_op_registry

    op_plugins = {impl.plugin for op in build_op_registry(manager) for impl in op.implementations}
    registered = sorted({*manager.info[plugin.name].registered, *(["op"] if plugin.name in op_plugins else [])})
    assert registered == plugin.kinds, f"'{plugin.name}' registers {registered}, registry.toml says {plugin.kinds}"
