"""Exceptions raised by restorefw.

Every error a user can cause derives from :class:`RestorefwError`; the CLI turns
these into one line on stderr and exit status 2, without a traceback.

Exception tree::

    RestorefwError
    ├── PluginError              a plugin failed to load, clashed or broke a hook contract
    ├── RegistryError            unknown kind or name ("did you mean"), duplicate registration
    ├── ConfigError              invalid component parameters or recipe; carries the TOML path
    │   └── RecipeError          one or more recipe problems, one line each
    ├── DataError                an image or data folder that cannot be used; names the file
    ├── CheckpointError          a missing, corrupt or mismatched checkpoint; names the file
    └── RunError                 a run that cannot start or continue (folder exists, NaN loss, ...)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "PluginError",
    "RecipeError",
    "RegistryError",
    "RestorefwError",
    "RunError",
]


class RestorefwError(Exception):
    """Base class of every error restorefw raises on purpose."""


class PluginError(RestorefwError):
    """A plugin could not be loaded or broke the contract of a hook."""


class RegistryError(RestorefwError):
    """An unknown component kind or name, or a name registered twice."""


class ConfigError(RestorefwError):
    """Invalid configuration.

    Args:
        message: what is wrong and what was expected.
        path: dotted TOML path of the offending value (``stages[0].optimizer.lr``), if known.
    """

    def __init__(self, message: str, path: str = "") -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class RecipeError(ConfigError):
    """A recipe with one or more problems; ``str()`` gives one line per problem.

    Args:
        problems: ``(path, message)`` pairs.
        source: the recipe file, when there is one.
    """

    def __init__(self, problems: Sequence[tuple[str, str]], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        lines = [f"{p}: {m}" if p else m for p, m in self.problems]
        super().__init__("\n".join(lines))

    def lines(self) -> list[str]:
        """One printable line per problem, prefixed with the recipe file name."""
        prefix = f"{self.source}: " if self.source else ""
        return [f"{prefix}{p}: {m}" if p else f"{prefix}{m}" for p, m in self.problems]


class DataError(RestorefwError):
    """An image or data folder that cannot be used; the message names the file."""


class CheckpointError(RestorefwError):
    """A missing, corrupt or mismatched checkpoint; the message names the file."""


class RunError(RestorefwError):
    """A run that cannot start or continue."""
