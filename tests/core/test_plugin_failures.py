"""Broken third-party plugins, installed through entry points: each failure is its own plugin's, named
with the hook and its definition; the others load; nothing crashes; --strict-plugins exits 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import restorefw
from restorefw.cli import cli
from restorefw.testing import registry_with

GOOD = """
    import restorefw

    class Haze:
        def __init__(self, amount: float = 0.1):
            self.amount = amount

        def __call__(self, hr, generator):
            return (hr * (1 - self.amount) + self.amount).clamp(0, 1), hr

    @restorefw.hookimpl
    def register_degradations(register):
        register("lab_haze", Haze, license="MIT")
"""

HEADER = "import restorefw\n\nclass Haze:\n    def __call__(self, hr, generator):\n        return hr, hr\n\n"

BROKEN = {
    "wrong_signature": (
        "@restorefw.hookimpl\ndef register_degradations(reg, extra):\n    reg('haze2', Haze)\n",
        "register_degradations", "takes (reg, extra) but the host calls it with one argument, 'register'"),
    "misspelt_hook": (
        "@restorefw.hookimpl\ndef register_degradation(register):\n    register('haze2', Haze)\n",
        "register_degradation", "is not a restorefw hook, so it is never called (did you mean "
                                "'register_degradations'?)"),
    "unmarked_hook": (
        "def register_degradations(register):\n    register('haze2', Haze)\n",
        "register_degradations", "is named like a hook but not marked with @restorefw.hookimpl"),
    "empty": (
        "@restorefw.hookimpl\ndef register_degradations(register):\n    pass\n",
        "", "registered no components: its hooks (register_degradations) never called register"),
    "name_clash": (
        "@restorefw.hookimpl\ndef register_degradations(register):\n    register('gaussian_noise', Haze)\n",
        "register_degradations", "degradation 'gaussian_noise' is registered twice: by plugin 'basic'"),
    "raises": (
        "@restorefw.hookimpl\ndef register_degradations(register):\n    raise KeyError('no table')\n",
        "register_degradations", "raised KeyError: 'no table'"),
    "api_version": (
        "RESTOREFW_API_VERSION = 99\n\n@restorefw.hookimpl\ndef register_degradations(register):\n"
        "    register('haze2', Haze)\n",
        "", "needs plugin API version 99, this restorefw has 1"),
    "import_error": ("import no_such_module_for_restorefw\n", "", "No module named 'no_such_module_for_restorefw'"),
    "instance": (
        "@restorefw.hookimpl\ndef register_degradations(register):\n    register('haze2', Haze())\n",
        "register_degradations", "factory of degradation 'haze2' is an instance of Haze, not a class or function"),
    "not_callable": (
        "@restorefw.hookimpl\ndef register_degradations(register):\n    register('haze2', 'Haze')\n",
        "register_degradations", "factory of degradation 'haze2' is not callable"),
    "no_config_model": (
        "class Config:\n    amount = 0.1\n\n@restorefw.hookimpl\ndef register_degradations(register):\n"
        "    register('haze2', Haze, schema=Config)\n",
        "register_degradations", "schema of degradation 'haze2' must be a pydantic model class"),
    "unresolvable_annotation": (
        "class Foggy:\n    def __init__(self, level: 'NoSuchType' = None):\n        pass\n\n"
        "@restorefw.hookimpl\ndef register_degradations(register):\n    register('haze2', Foggy)\n",
        "register_degradations", "has no schema and none can be derived from its factory's parameters "
                                 "(NameError: name 'NoSuchType' is not defined)"),
}


@pytest.fixture(params=sorted(BROKEN))
def broken(request: pytest.FixtureRequest, install_plugin) -> tuple[str, str, str]:
    """A good plugin and one broken in one way; returns the broken one's name, hook and message."""
    install_plugin("lab_good", GOOD)
    source, hook, message = BROKEN[request.param]
    name = f"lab_{request.param}"
    install_plugin(name, HEADER + source)
    return name, hook, message


def _invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def test_the_failure_is_the_plugins_own_and_the_others_load(broken) -> None:
    name, hook, message = broken
    pm = restorefw.get_plugin_manager()
    registry = restorefw.build_registry(pm)
    failures = [f for f in pm.failures if f.name == name]
    assert failures and all(f.distribution == f"restorefw-{name.replace('_', '-')}" for f in failures)
    assert any(message in f.error for f in failures), [f.error for f in failures]
    assert {f.name for f in pm.failures} == {name}
    if hook:
        failure = next(f for f in failures if message in f.error)
        assert failure.hook == hook and failure.error.startswith(f"hook {hook} ({hook}(")
        assert ".py:" in failure.definition
    assert ("degradation", "lab_haze") in registry and ("degradation", "gaussian_noise") in registry
    assert registry.get("degradation", "gaussian_noise").plugin == "basic"


def test_plugins_lists_it_and_exits_non_zero(broken) -> None:
    name, hook, message = broken
    result = _invoke("plugins", "--json")
    assert result.exit_code == 1, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)["plugins"]}
    assert rows["lab_good"]["status"] == "ok" and rows["basic"]["status"] == "ok"
    assert rows[name]["status"] in ("error", "warning")
    assert any(message in f["error"] and f["hook"] == hook for f in rows[name]["failures"])
    text = _invoke("plugins")
    assert text.exit_code == 1 and f"{name}  restorefw-{name.replace('_', '-')} 0.1.0  [" in text.stdout
    assert message in text.stdout and "Traceback" not in text.output
    assert _invoke("plugins", "--exit-zero").exit_code == 0


def test_every_command_keeps_working_and_strict_exits_2(broken, tmp_path) -> None:
    name, _, message = broken
    recipe = tmp_path / "r.toml"
    recipe.write_text('[data]\ntrain = "skimage_samples"\n[task]\ntype = "custom"\ndegradation = "lab_haze"\n'
                      '[model]\ntype = "rescnn"\n[[stages]]\nname = "s"\nsteps = 1\n')
    for args in (["list", "degradation"], ["validate", str(recipe)]):
        result = _invoke(*args)
        assert result.exit_code == 0, result.output
        assert f"warning: plugin '{name}'" in result.stderr and message in result.stderr
        assert "Traceback" not in result.output
        strict = _invoke(*args, "--strict-plugins")
        assert strict.exit_code == 2 and f"error: plugin '{name}'" in strict.stderr
        assert "Traceback" not in strict.output
    strict = _invoke("plugins", "--strict-plugins")
    assert strict.exit_code == 2 and f"plugin '{name}'" in strict.stderr and "Traceback" not in strict.output


def test_registry_with_names_plugin_hook_and_definition() -> None:
    class Lab:
        @restorefw.hookimpl
        def register_degradations(self, reg, extra):  # the mistake under test
            pass

    with pytest.raises(restorefw.PluginError) as info:
        registry_with(Lab())
    message = str(info.value)
    assert "\n" not in message and message.startswith("plugin 'Lab': hook register_degradations (")
    assert "takes (reg, extra)" in message and "test_plugin_failures.py:" in message
    registry = registry_with(Lab(), strict=False)
    assert ("optimizer", "adam") in registry


def test_a_bad_component_does_not_take_the_plugins_others() -> None:
    class Lab:
        @restorefw.hookimpl
        def register_losses(self, register):
            register("bad", object())
            register("good", lambda: None)

    pm = restorefw.testing.plugin_manager(Lab(), strict=False)
    registry = restorefw.build_registry(pm)
    assert ("loss", "good") in registry and ("loss", "bad") not in registry
    assert pm.status("Lab") == "error" and pm.info["Lab"].registered == {"loss": ["good"]}


def test_list_shows_factory_defaults_and_keeps_its_columns(install_plugin, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # no parameter list wraps
    long_name = "lab_plugin_with_a_name_far_longer_than_any_column_width"
    install_plugin(long_name, """
        import restorefw

        @restorefw.hookimpl
        def register_losses(register):
            register("lab_loss_with_a_long_name_too", lambda weight=1.0: None, license="MIT")
    """)
    result = _invoke("list", "loss")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = lines[0]
    columns = [header.index(title) for title in ("name", "plugin", "licence", "parameters")]
    rows = [line for line in lines[1:] if line.startswith("loss ")]
    assert len(rows) >= 5
    for line in rows:
        assert all(line[c - 1] == " " and line[c] != " " for c in columns), (header, line)
    mine = next(line for line in rows if long_name in line)
    assert mine[columns[1]:].startswith(long_name) and mine[columns[3]:] == "weight=1.0"
    models = _invoke("list", "model").stdout + _invoke("list", "strategy").stdout
    assert "PydanticUndefined" not in models
    assert "num_blocks=[4, 6, 6, 8]" in models
    assert "widths=[16, 32, 48, 64]" in models
    assert "kernel={'type': 'anisotropic_gaussian'" in models
