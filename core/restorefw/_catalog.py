"""The catalog of known official checkpoints: typed entries, read from the tables plugins ship.

Each plugin describes the checkpoints its models' authors publish (where, under which licence,
with which model spec and evaluation protocol, the SHA-256 of each file where known) in a TOML
table it ships as package data, and registers the entries through the ``register_weights`` hook.
The catalog is a plain table: it reads no checkpoint and downloads nothing.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Iterator
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from restorefw._errors import ConfigError, RegistryError
from restorefw._hints import did_you_mean
from restorefw._schema import validation_problems

__all__ = ["WeightsCatalog", "WeightsEntry", "read_weights_table"]

_FileName = Annotated[str, StringConstraints(pattern=r"^[^/\\]+$")]
_Hash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class WeightsEntry(BaseModel):
    """One checkpoint that a model's authors publish, and what goes with it.

    Attributes:
        name: ``family/variant``, e.g. ``restormer/deraining`` (lower case).
        model: the registered model that loads it.
        spec: that model's parameters for this checkpoint (``type`` aside). They are used as they
            are, not inferred from the keys, so they can say what the weights cannot (MZSR's scale).
        files: the file names as published; a checkpoint stored in several files (a TensorFlow 1
            bundle) lists all of them, the one to pass on the command line first.
        sha256: SHA-256 (lower-case hex) of each published file whose hash is known.
        source: where the authors publish the files.
        mirrors: other addresses that serve the same files.
        license: the licence of the weights (not of restorefw's code).
        protocol: the evaluation protocol that goes with it (a name of ``restorefw.data.PROTOCOLS``).
        task: what it restores, in a few words.
        reported: published results, ``{test set or condition: {metric: value}}``.
        reference: where the ``reported`` numbers come from.
        notes: caveats, and what could not be confirmed.
        plugin: the plugin that registered the entry (set at registration).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*/[a-z0-9][a-z0-9_.-]*$")
    model: str = Field(min_length=1)
    spec: dict[str, Any] = Field(default_factory=dict)
    files: tuple[_FileName, ...] = Field(min_length=1)
    sha256: dict[str, _Hash] = Field(default_factory=dict)
    source: str = Field(min_length=1)
    mirrors: tuple[str, ...] = ()
    license: str = Field(min_length=1)
    protocol: str | None = None
    task: str = ""
    reported: dict[str, dict[str, float]] = Field(default_factory=dict)
    reference: str = ""
    notes: str = ""
    plugin: str = ""

    @model_validator(mode="after")
    def _hashes_of_listed_files(self) -> WeightsEntry:
        if "type" in self.spec:
            raise ValueError("spec holds the model's parameters; the model is named by 'model', not spec.type")
        if strays := sorted(set(self.sha256) - set(self.files)):
            raise ValueError(f"sha256 names files that are not in 'files': {', '.join(strays)}")
        return self

    @property
    def model_spec(self) -> dict[str, Any]:
        """The model spec to build: ``{"type": model, **spec}``."""
        return {"type": self.model, **self.spec}

    @property
    def fully_hashed(self) -> bool:
        """Whether every file has a known SHA-256, so that a check covers the whole checkpoint."""
        return set(self.sha256) == set(self.files)


class WeightsCatalog:
    """Known official checkpoints by name (``registry.weights``), filled by ``register_weights``."""

    def __init__(self) -> None:
        self._entries: dict[str, WeightsEntry] = {}

    def add(self, entry: WeightsEntry) -> None:
        """Add an entry; a name taken already is an error naming both plugins."""
        if (first := self._entries.get(entry.name)) is not None:
            raise RegistryError(f"weights '{entry.name}' are registered twice: by plugin '{first.plugin}' and by "
                                f"plugin '{entry.plugin}'")
        self._entries[entry.name] = entry

    def get(self, name: str) -> WeightsEntry:
        """The entry called ``name``; an unknown name raises with the closest known one."""
        if name in self._entries:
            return self._entries[name]
        hint = did_you_mean(name, self._entries)
        raise RegistryError(f"unknown weights '{name}'{hint}; 'restorefw weights' lists the {len(self)} known ones")

    def list(self, pattern: str | None = None) -> list[WeightsEntry]:
        """Entries whose names match the glob ``pattern`` (all when None), by name."""
        return [e for name, e in sorted(self._entries.items()) if pattern is None or fnmatch.fnmatch(name, pattern)]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[WeightsEntry]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._entries)


def read_weights_table(source: str | Path | Traversable) -> list[WeightsEntry]:
    """The entries of a weights table: a TOML file with one ``[[weights]]`` table per checkpoint.

    An optional ``[defaults]`` table gives values for keys that an entry leaves out (a licence,
    a model, notes that hold for every checkpoint of a release).

    Args:
        source: the file, e.g. ``importlib.resources.files("my_plugin") / "weights.toml"``.

    Raises:
        ConfigError: an unreadable file, invalid TOML, unknown keys or bad values; one line per
            problem, naming the file and the key (``weights.toml: weights[2].sha256.x.pth: ...``).
    """
    source = Path(source) if isinstance(source, str) else source
    try:
        table = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the weights table: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    problems = [(key, "unknown key (expected [defaults] and [[weights]])") for key in table
                if key not in ("defaults", "weights")]
    defaults, rows = table.get("defaults", {}), table.get("weights", [])
    if not isinstance(defaults, dict):
        problems.append(("defaults", "expected a table ([defaults])"))
    if not isinstance(rows, list):
        problems.append(("weights", "expected an array of tables ([[weights]])"))
    entries = []
    if not problems:
        for i, row in enumerate(rows):
            try:
                entries.append(WeightsEntry.model_validate({**defaults, **row} if isinstance(row, dict) else row))
            except ValidationError as exc:
                problems += validation_problems(exc, f"weights[{i}]")
    if problems:
        raise ConfigError("\n".join(f"{source}: {path}: {message}" for path, message in problems))
    return entries
