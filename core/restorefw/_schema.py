"""Config schemas: component fields, schemas derived from signatures, error paths."""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from restorefw._errors import RegistryError

__all__ = [
    "ComponentField",
    "StrictModel",
    "checked_schema",
    "component_fields",
    "format_loc",
    "schema_from_signature",
    "validation_problems",
]


class StrictModel(BaseModel):
    """Base for config schemas: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


@dataclass(frozen=True)
class _Kind:
    kind: str


def ComponentField(kind: str) -> Any:  # noqa: N802 - used like a type
    """Type of a config field holding a nested component spec of ``kind``.

    In TOML it is ``{type = "name", ...params}`` or just ``"name"``. The
    registry validates it with the named component's own schema and hands the
    built component to the factory.

    Example:
        ``encoder: ComponentField("model")`` or ``heads: list[ComponentField("head")]``.
    """
    return Annotated[dict[str, Any] | str, _Kind(kind)]


def _kind_of(annotation: Any) -> str | None:
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, _Kind):
            return meta.kind
    return None


def component_fields(schema: type[BaseModel]) -> dict[str, tuple[str, str]]:
    """Fields of ``schema`` holding component specs: ``name -> (kind, container)``.

    ``container`` is ``""`` (one spec), ``"list"`` or ``"dict"`` (values are specs).
    """
    found: dict[str, tuple[str, str]] = {}
    hints = typing.get_type_hints(schema, include_extras=True)
    for name in schema.model_fields:
        annotation = hints.get(name)
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            non_none = [a for a in args if a is not type(None)]
            annotation = non_none[0] if len(non_none) == 1 else annotation
        kind = _kind_of(annotation)
        if kind is not None:
            found[name] = (kind, "")
            continue
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is list and args and (kind := _kind_of(args[0])):
            found[name] = (kind, "list")
        elif origin is dict and len(args) == 2 and (kind := _kind_of(args[1])):
            found[name] = (kind, "dict")
    return found


def schema_from_signature(factory: Callable[..., Any], name: str) -> type[BaseModel]:
    """Build a strict pydantic schema from a factory's keyword parameters.

    Raises:
        NameError: an annotation names something its module does not define.
        TypeError: a parameter's annotation is no type pydantic can validate.
        ValueError: the factory's signature cannot be read.
    """
    fields: dict[str, Any] = {}
    # String annotations (``from __future__ import annotations``) are resolved in the factory's own
    # module, so that the schema is complete when it is made, not when a recipe first uses it.
    for param in inspect.signature(factory, eval_str=True).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = Any if param.annotation is param.empty else param.annotation
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, default)
    model_name = "".join(part.capitalize() for part in name.replace(".", "_").split("_"))
    schema = create_model(f"{model_name}Config", __base__=StrictModel, **fields)
    if not schema.__pydantic_complete__:
        raise TypeError(f"the annotations of {getattr(factory, '__qualname__', name)} cannot be resolved")
    return schema


def checked_schema(kind: str, name: str, factory: Any, schema: Any = None) -> type[BaseModel]:
    """The config schema of a component about to be registered, after checking that it can be built.

    Returns ``schema``, or one derived from the factory's keyword parameters when it is ``None``.

    Raises:
        RegistryError: in one line, when the factory is not callable, is an instance rather than a
            class or function (it would be called with the recipe's parameters), or has no schema
            that can validate its parameters.
    """
    label = f"{kind} '{name}'"
    if not callable(factory):
        raise RegistryError(f"factory of {label} is not callable: got {_describe(factory)}; register a class or "
                            "a function that returns the component")
    if not (inspect.isclass(factory) or inspect.isroutine(factory) or isinstance(factory, functools.partial)):
        cls = type(factory).__name__
        raise RegistryError(f"factory of {label} is an instance of {cls}, not a class or function: register "
                            f"{cls} itself, which the registry calls with the recipe's parameters")
    if schema is not None:
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            raise RegistryError(f"schema of {label} must be a pydantic model class (a restorefw.StrictModel "
                                f"subclass), got {_describe(schema)}")
        return schema
    try:
        return schema_from_signature(factory, name)
    except Exception as exc:
        raise RegistryError(f"{label} has no schema and none can be derived from its factory's parameters "
                            f"({type(exc).__name__}: {str(exc).splitlines()[0]}); pass schema=YourConfig") from None


def _describe(value: Any) -> str:
    return f"the class {value.__name__}" if isinstance(value, type) else f"an instance of {type(value).__name__}"


def format_loc(loc: tuple[Any, ...], prefix: str = "") -> str:
    """Join a pydantic location into a TOML dotted path: ``stages[0].loss.weight``."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def validation_problems(error: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """Turn a pydantic error into ``(path, message)`` pairs."""
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and "[" in p and "]" in p))
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append((format_loc(loc, prefix), message))
    return problems
