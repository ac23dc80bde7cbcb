from __future__ import annotations

import subprocess
import sys

import restorefw
from restorefw import _errors


def test_all_is_sorted_and_complete():
    assert restorefw.__all__ == sorted(restorefw.__all__)
    for name in restorefw.__all__:
        assert getattr(restorefw, name) is not None


def test_public_surface():
    assert set(restorefw.__all__) == {
        "API_VERSION", "KINDS", "Batch", "CheckpointError", "ComponentField", "ConfigError", "DataError",
        "Entry", "PluginError", "PluginFailure", "PluginInfo", "RecipeError", "Registry", "RegistryError",
        "RestorefwError", "RunError", "Runner", "StepContext", "Strategy", "StrictModel", "Task",
        "__version__", "apply_overrides", "build_model", "build_op_registry", "build_registry", "Register", "create",
        "default_registry", "dump_recipe", "get_plugin_manager", "hookimpl", "list_components", "load_model",
        "load_recipe", "resolve_recipe",
    }


def test_error_tree_matches_docstring():
    for name in _errors.__all__:
        cls = getattr(_errors, name)
        assert issubclass(cls, restorefw.RestorefwError)
        assert name in _errors.__doc__
    assert issubclass(restorefw.RecipeError, restorefw.ConfigError)


def test_help_does_not_import_torch():
    code = ("import sys; from restorefw.cli import cli\n"
            "try:\n    cli.main(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Commands:" in result.stdout


def test_console_script_help_runs():
    result = subprocess.run([sys.executable, "-m", "restorefw", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "validate" in result.stdout
