"""The typed component registry.

A :class:`Registry` holds frozen :class:`Entry` objects keyed by ``(kind, name)``.
It is filled from a plugin manager's hooks (:meth:`Registry.from_plugins`), or by
hand in tests, and it validates and builds components from specs. Beside the
components it holds the catalog of known official checkpoints (:attr:`Registry.weights`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from restorefw._catalog import WeightsCatalog
from restorefw._errors import ConfigError, RecipeError, RegistryError
from restorefw._hints import did_you_mean
from restorefw._schema import checked_schema, component_fields, validation_problems

if TYPE_CHECKING:
    from restorefw.weights import Importer

__all__ = ["KINDS", "PARTS", "Entry", "OnBuilt", "Registry"]

KINDS: tuple[str, ...] = (
    "dataset",
    "degradation",
    "head",
    "kernel",
    "layout",
    "logger",
    "loss",
    "metric",
    "model",
    "optimizer",
    "scheduler",
    "strategy",
    "tail",
    "task",
)


PARTS: tuple[str, ...] = ("decoder", "encoder", "head", "tail")
"""What a registered model part is (heads and tails are kinds of their own; encoders and decoders are models)."""

Part = Literal["decoder", "encoder", "head", "tail"]

_RESERVED: dict[str, tuple[str, ...]] = {"model": ("checkpoint",)}
"""Keys any spec of a kind may carry besides its schema's: a model's initial weights, which the
engine loads (the registry only checks that the value is a path)."""

OnBuilt = Callable[[str, dict[str, Any], Any], None]
"""Called as ``on_built(kind, resolved_spec, component)`` after each component, parts before wholes."""


@dataclass(frozen=True)
class Entry:
    """One registered component and where it came from.

    Attributes:
        part: for model parts, which part (``encoder``, ``decoder``, ``head``, ``tail``).
        importer: how the model reads the authors' checkpoints (``restorefw convert``).
        zero_shot: per-image adaptation ``zero_shot(model, image, kernel, steps=..., ...)``
            (``restorefw restore --adapt-steps``).
        tags: free-form labels for listings; nothing in restorefw reads them.
    """

    kind: str
    name: str
    factory: Callable[..., Any] = field(repr=False)
    schema: type[BaseModel] = field(repr=False)
    plugin: str = ""
    distribution: str = ""
    version: str = ""
    license: str | None = None
    paper: str | None = None
    description: str = ""
    part: Part | None = None
    importer: Importer | None = field(default=None, repr=False)
    zero_shot: Callable[..., Any] | None = field(default=None, repr=False)
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        """Human-readable origin: ``plugin 'x' (dist 1.0)``."""
        dist = f" ({self.distribution} {self.version})".rstrip() if self.distribution else ""
        return f"plugin '{self.plugin}'{dist}"

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of the component's parameters."""
        return self.schema.model_json_schema()


def _split_spec(spec: Any, path: str) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, BaseModel):
        spec = spec.model_dump()
    if not isinstance(spec, dict):
        raise RecipeError([(path, f"expected a component name or a table with 'type', got {type(spec).__name__}")])
    if "type" not in spec:
        raise RecipeError([(path, "missing 'type' (the registered component name)")])
    params = dict(spec)
    name = params.pop("type")
    if not isinstance(name, str):
        raise RecipeError([(f"{path}.type" if path else "type", "expected a string")])
    return name, params


class Registry:
    """Typed registry of components, keyed by kind and name.

    Attributes:
        weights: the known official checkpoints (``register_weights``), by name.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Entry] = {}
        self.weights = WeightsCatalog()

    def add(self, entry: Entry) -> None:
        """Add an entry; a name taken in the same kind is an error naming both origins."""
        if entry.kind not in KINDS:
            raise RegistryError(f"unknown component kind '{entry.kind}' from {entry.origin}; kinds: {', '.join(KINDS)}")
        key = (entry.kind, entry.name)
        if key in self._entries:
            first = self._entries[key]
            raise RegistryError(
                f"{entry.kind} '{entry.name}' is registered twice: by {first.origin} and by {entry.origin}"
            )
        self._entries[key] = entry

    def register(self, kind: str, name: str, factory: Callable[..., Any], **meta: Any) -> Entry:
        """Register a component directly (tests, notebooks); returns the entry."""
        schema = checked_schema(kind, name, factory, meta.pop("schema", None))
        entry = Entry(kind=kind, name=name, factory=factory, schema=schema, **meta)
        self.add(entry)
        return entry

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterable[Entry]:
        return iter(sorted(self._entries.values(), key=lambda e: (e.kind, e.name)))

    def list(self, kind: str | None = None, pattern: str | None = None) -> list[Entry]:
        """Entries of ``kind`` (all kinds if None) whose name matches the glob ``pattern``."""
        if kind is not None and kind not in KINDS:
            hint = did_you_mean(kind, KINDS)
            raise RegistryError(f"unknown component kind '{kind}'{hint}; kinds: {', '.join(KINDS)}")
        return [
            e
            for e in self
            if (kind is None or e.kind == kind) and (pattern is None or fnmatch.fnmatch(e.name, pattern))
        ]

    def get(self, kind: str, name: str) -> Entry:
        """The entry for ``(kind, name)``; unknown names raise with a "did you mean"."""
        try:
            return self._entries[(kind, name)]
        except KeyError:
            if kind not in KINDS:
                raise RegistryError(f"unknown component kind '{kind}'{did_you_mean(kind, KINDS)}") from None
            known = sorted(n for k, n in self._entries if k == kind)
            raise RegistryError(
                f"unknown {kind} '{name}'{did_you_mean(name, known)}; known: {', '.join(known) or 'none'}"
            ) from None

    def resolve(self, kind: str, spec: Any, path: str = "") -> dict[str, Any]:
        """Validate a spec with its component's schema, recursively.

        Returns the spec with every default filled in (``{"type": name, ...}``).
        Raises :class:`RecipeError` listing every problem with its path.
        """
        name, params = _split_spec(spec, path)
        reserved = {k: params.pop(k) for k in _RESERVED.get(kind, ()) if k in params}
        problems: list[tuple[str, str]] = [(f"{path}.{k}" if path else k, "expected a file path (string)")
                                           for k, v in reserved.items() if not isinstance(v, str)]
        try:
            entry = self.get(kind, name)
        except RegistryError as exc:
            raise RecipeError([(f"{path}.type" if path else "type", str(exc))]) from None
        nested = component_fields(entry.schema)
        resolved_nested: dict[str, Any] = {}
        for fname, (fkind, container) in nested.items():
            value = params.get(fname, _default_of(entry.schema, fname))
            if value is None:
                continue
            fpath = f"{path}.{fname}" if path else fname
            try:
                resolved_nested[fname] = self._resolve_container(fkind, container, value, fpath)
            except RecipeError as exc:
                problems.extend(exc.problems)
        try:
            config = entry.schema.model_validate(params)
        except ValidationError as exc:
            problems.extend(
                p for p in validation_problems(exc, path) if not _inside(p[0], path, nested, params)
            )
            config = None
        if problems:
            raise RecipeError(problems)
        assert config is not None
        return {"type": name, **config.model_dump(mode="python"), **resolved_nested, **reserved}

    def _resolve_container(self, kind: str, container: str, value: Any, path: str) -> Any:
        if container == "list":
            if not isinstance(value, list):
                raise RecipeError([(path, "expected a list of components")])
            return [self.resolve(kind, v, f"{path}[{i}]") for i, v in enumerate(value)]
        if container == "dict":
            if not isinstance(value, dict):
                raise RecipeError([(path, "expected a table of components")])
            return {k: self.resolve(kind, v, f"{path}.{k}") for k, v in value.items()}
        return self.resolve(kind, value, path)

    def create(self, kind: str, spec: Any = None, /, on_built: OnBuilt | None = None, **params: Any) -> Any:
        """Validate and build a component.

        Args:
            kind: component kind, e.g. ``"metric"``.
            spec: registered name, or a spec table ``{"type": name, ...}``.
            on_built: see :meth:`build`.
            **params: parameters (merged over the spec's).

        Example:
            ``registry.create("metric", "psnr", crop_border=4, y_channel=True)``
        """
        name, base = _split_spec(spec, kind)
        resolved = self.resolve(kind, {"type": name, **base, **params})
        return self.build(kind, resolved, on_built)

    def build(self, kind: str, resolved: dict[str, Any], on_built: OnBuilt | None = None) -> Any:
        """Build a component from an already resolved spec (see :meth:`resolve`).

        Nested components are built first and handed to the factory. A model spec's
        ``checkpoint`` is not read here: whoever runs the model loads it (``on_built`` tells
        which built object each spec became).
        """
        params = dict(resolved)
        entry = self.get(kind, params.pop("type"))
        for key in _RESERVED.get(kind, ()):
            params.pop(key, None)
        for fname, (fkind, container) in component_fields(entry.schema).items():
            value = params.get(fname)
            if value is None:
                continue
            if container == "list":
                params[fname] = [self.build(fkind, v, on_built) for v in value]
            elif container == "dict":
                params[fname] = {k: self.build(fkind, v, on_built) for k, v in value.items()}
            else:
                params[fname] = self.build(fkind, value, on_built)
        try:
            built = entry.factory(**params)
        except ConfigError as exc:
            names = [f"{f} = '{resolved[f]['type']}'" for f in component_fields(entry.schema)
                     if isinstance(resolved.get(f), dict)]
            if not names:
                raise
            raise ConfigError(f"{exc.message} ({', '.join(names)})", exc.path) from exc
        except RegistryError:
            raise
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{kind} '{entry.name}' from {entry.origin} rejected its parameters: {exc}") from exc
        if on_built is not None:
            on_built(kind, resolved, built)
        return built

def _default_of(schema: type[BaseModel], name: str) -> Any:
    """A field's default (``None`` when it is required or defaults to nothing)."""
    field_info = schema.model_fields[name]
    return None if field_info.is_required() else field_info.get_default(call_default_factory=True)


def _inside(path: str, prefix: str, nested: dict[str, Any], params: dict[str, Any]) -> bool:
    """Whether an error path points into a given nested component (validated separately)."""
    for fname in nested:
        if fname not in params:
            continue
        base = f"{prefix}.{fname}" if prefix else fname
        if path == base or path.startswith((base + ".", base + "[")):
            return True
    return False


