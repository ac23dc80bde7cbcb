from __future__ import annotations

import importlib.metadata as md
import sys
import types

import pytest

import restorefw
from restorefw import PluginError, get_plugin_manager, hookimpl


def _plugin(name: str, loss_name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    @hookimpl
    def register_losses(register):
        register(loss_name, lambda: "ok")

    module.register_losses = register_losses
    return module


class FakeEntryPoint:
    def __init__(self, name: str, value: str, dist: str) -> None:
        self.name, self.value = name, value
        self.dist = types.SimpleNamespace(name=dist, version="9.9")

    def load(self):
        __import__(self.value)
        return sys.modules[self.value]


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Installed entry points plus a broken and a clashing third-party plugin."""
    real = list(md.entry_points(group="restorefw"))
    monkeypatch.setitem(sys.modules, "clash_plugin", _plugin("clash_plugin", "l1"))
    monkeypatch.setitem(sys.modules, "good_plugin", _plugin("good_plugin", "good_loss"))
    fakes = [
        FakeEntryPoint("broken", "no_such_module_xyz", "restorefw-broken"),
        FakeEntryPoint("clash", "clash_plugin", "restorefw-clash"),
        FakeEntryPoint("good", "good_plugin", "restorefw-good"),
    ]
    monkeypatch.setattr(md, "entry_points", lambda group=None: [*real, *fakes] if group == "restorefw" else [])
    return fakes


def test_first_party_plugins_load():
    pm = get_plugin_manager()
    assert {"basic", "restormer", "core"} <= set(pm.info)
    assert pm.failures == []
    assert pm.info["basic"].distribution == "restorefw"


def test_broken_and_clashing_plugins_are_recorded(fake_entry_points):
    pm = get_plugin_manager()
    reg = restorefw.build_registry(pm)
    errors = {f.name: f.error for f in pm.failures}
    assert "No module named 'no_such_module_xyz'" in errors["broken"]
    assert "registered twice" in errors["clash"] and "plugin 'basic'" in errors["clash"]
    assert ("loss", "good_loss") in reg and ("loss", "l1") in reg
    assert reg.get("loss", "l1").plugin == "basic"


def test_strict_mode_raises_naming_the_plugin(fake_entry_points):
    with pytest.raises(PluginError, match="plugin 'broken'"):
        get_plugin_manager(strict=True)


def test_load_plugins_env(monkeypatch):
    monkeypatch.setenv("RESTOREFW_LOAD_PLUGINS", "")
    pm = get_plugin_manager()
    assert set(pm.info) == {"core"}
    monkeypatch.setenv("RESTOREFW_LOAD_PLUGINS", "basic")
    assert set(get_plugin_manager().info) == {"core", "basic"}


def test_api_version_mismatch_is_reported():
    module = _plugin("future_plugin", "future_loss")
    module.RESTOREFW_API_VERSION = 99
    pm = get_plugin_manager(load_entrypoints=False, plugins=[("future", module)])
    assert "needs plugin API version 99" in pm.failures[0].error


def test_hook_error_is_recorded_not_raised():
    module = types.ModuleType("bad_hook")

    @hookimpl
    def register_metrics(register):
        raise RuntimeError("boom")

    module.register_metrics = register_metrics
    pm = get_plugin_manager(load_entrypoints=False, plugins=[("bad", module)])
    restorefw.build_registry(pm)
    failure = pm.failures[0]
    assert failure.name == "bad" and failure.hook == "register_metrics"
    assert failure.error.startswith("hook register_metrics (register_metrics(register) at ")
    assert failure.error.endswith(") raised RuntimeError: boom")


def test_plugins_cli_json_lists_failure(fake_entry_points):
    import json

    from click.testing import CliRunner

    from restorefw.cli import cli

    result = CliRunner().invoke(cli, ["plugins", "--json"])
    rows = {r["name"]: r for r in json.loads(result.output)["plugins"]}
    assert rows["basic"]["status"] == "ok" and "psnr" in rows["basic"]["registered"]["metric"]
    assert rows["basic"]["hooks"] and rows["basic"]["version"]
    assert rows["broken"]["status"] == "error" and rows["broken"]["distribution"] == "restorefw-broken"
    assert rows["good"]["status"] == "ok"
