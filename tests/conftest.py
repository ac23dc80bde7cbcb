"""Shared fixtures: a registry of the installed plugins, built once per session."""

from __future__ import annotations

import pytest

import restorefw


@pytest.fixture(scope="session")
def registry() -> restorefw.Registry:
    """Registry of every installed plugin (first-party ones included)."""
    return restorefw.build_registry(restorefw.get_plugin_manager())
