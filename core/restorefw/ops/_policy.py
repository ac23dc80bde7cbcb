"""Which implementation of each op to use: ``auto``, ``reference``, or pinned per op.

The policy text is the same wherever it comes from (``RESTOREFW_OPS``,
:func:`restorefw.ops.use`): comma-separated items, at most one of ``auto`` or
``reference`` (the default for every op) and any number of ``op=implementation`` pins,
e.g. ``reference,restormer.mdta=scaled``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from restorefw._errors import ConfigError
from restorefw._hints import did_you_mean

__all__ = ["ENV_VAR", "OpsPolicy"]

ENV_VAR = "RESTOREFW_OPS"
_DEFAULTS = ("auto", "reference")


@dataclass(frozen=True)
class OpsPolicy:
    """A parsed policy; hashable, so resolutions can be cached per policy.

    Attributes:
        default: ``"auto"`` (the best usable override, else the reference) or ``"reference"``.
        pins: ``(op, implementation)`` pairs, sorted; ``implementation`` may be ``"auto"`` or
            ``"reference"`` too.
        source: where the policy came from, used as the path of errors.
    """

    default: Literal["auto", "reference"] = "auto"
    pins: tuple[tuple[str, str], ...] = ()
    source: str = ENV_VAR

    @classmethod
    def parse(cls, spec: str | Mapping[str, str] | OpsPolicy | None, source: str = ENV_VAR) -> OpsPolicy:
        """Parse policy text, or a mapping of pins (default ``auto``).

        Raises:
            ConfigError: a malformed item, two defaults or an op pinned twice.
        """
        if isinstance(spec, OpsPolicy):
            return spec
        if spec is None:
            return cls(source=source)
        items = [f"{op}={impl}" for op, impl in spec.items()] if isinstance(spec, Mapping) else spec.split(",")
        default: str | None = None
        pins: dict[str, str] = {}
        for raw in (item.strip() for item in items):
            if not raw:
                continue
            op, sep, impl = (part.strip() for part in raw.partition("="))
            if not sep:
                if op not in _DEFAULTS:
                    raise ConfigError(f"'{op}' is neither 'auto', 'reference' nor an op=implementation pin", source)
                if default is not None:
                    raise ConfigError(f"two defaults, '{default}' and '{op}'", source)
                default = op
            elif not op or not impl:
                raise ConfigError(f"'{raw}' is not an op=implementation pin", source)
            elif op in pins:
                raise ConfigError(f"op '{op}' is pinned twice", source)
            else:
                pins[op] = impl
        return cls(default or "auto", tuple(sorted(pins.items())), source)  # type: ignore[arg-type]

    def choice(self, op: str) -> str:
        """``"auto"``, ``"reference"`` or the implementation name pinned for ``op``."""
        return dict(self.pins).get(op, self.default)

    def check(self, implementations: Mapping[str, Iterable[str]]) -> None:
        """Check the pins against ``{op: implementation names}``.

        Raises:
            ConfigError: an unknown op or implementation, with a "did you mean".
        """
        for op, impl in self.pins:
            if op not in implementations:
                known = sorted(implementations)
                hint = did_you_mean(op, known)
                raise ConfigError(f"unknown op '{op}'{hint}; known ops: {', '.join(known)}", self.source)
            names = sorted({*implementations[op], *_DEFAULTS})
            if impl not in names:
                hint = did_you_mean(impl, names)
                raise ConfigError(f"op '{op}' has no implementation '{impl}'{hint}; choose from {', '.join(names)}",
                                  self.source)

    def __str__(self) -> str:
        return ",".join([self.default, *(f"{op}={impl}" for op, impl in self.pins)])

