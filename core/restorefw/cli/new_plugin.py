"""``restorefw new-plugin``: scaffold a plugin distribution that passes the conformance kit."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

import click

__all__ = ["KINDS", "new_plugin", "scaffold"]


@dataclass(frozen=True)
class _Kind:
    summary: str
    suffix: str
    recipe: str


KINDS: dict[str, _Kind] = {
    "degradation": _Kind("salt-and-pepper impulse noise", "Noise",
                         '[task]\ntype = "custom"\ndegradation = { type = "$name", amount = 0.05 }'),
    "kernel": _Kind("random defocus (disk) blur kernels", "Kernels",
                    '[task]\ntype = "deblur"\nkernel = { type = "$name", radius_max = 3.0 }'),
    "model": _Kind("a small residual CNN", "Net", '[model]\ntype = "$name"\nchannels = 32'),
    "loss": _Kind("L1 plus an L1 term on image gradients", "Loss",
                  '[[stages]]\nname = "train"\nsteps = 100\nloss = { type = "$name", edge_weight = 0.5 }'),
    "metric": _Kind("mean absolute error on the [0, 255] scale", "Metric",
                    '[eval]\nmetrics = ["psnr", { type = "$name" }]'),
    "task": _Kind("removal of quantisation (banding) artefacts", "Task", '[task]\ntype = "$name"\nlevels = 16'),
    "logger": _Kind("scalars as CSV rows in the run folder", "Logger", '[[loggers]]\ntype = "$name"'),
}
"""What the example component of each kind is, and how a recipe uses it."""

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")


def _variables(name: str, kind: str) -> dict[str, str]:
    snake = name.replace("-", "_")
    camel = "".join(part.capitalize() for part in snake.split("_"))
    info = KINDS[kind]
    variables = {
        "name": snake,
        "dist": "restorefw-" + snake.replace("_", "-"),
        "package": "restorefw_" + snake,
        "kind": kind,
        "summary": info.summary,
        "cls": camel + info.suffix,
        "config": camel + "Config",
        "factory": snake + "_task",
        "check": f"check_{kind}",
    }
    variables["recipe"] = Template(info.recipe).substitute(variables)
    return variables


def _render(template: str, variables: dict[str, str]) -> str:
    text = resources.files("restorefw.cli").joinpath("_templates", template).read_text(encoding="utf-8")
    return Template(text).substitute(variables)


def scaffold(name: str, kind: str, out: Path) -> list[Path]:
    """Write the distribution ``restorefw-<name>`` into ``out``; returns the files written.

    Raises:
        ValueError: invalid name or kind, or ``out`` exists and is not empty.
    """
    if not _NAME.match(name):
        raise ValueError(f"invalid plugin name '{name}': use lowercase letters, digits, '_' or '-', "
                         "starting with a letter")
    if kind not in KINDS:
        raise ValueError(f"unknown kind '{kind}'; choose one of {', '.join(KINDS)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"'{out}' already exists and is not an empty directory")
    variables = _variables(name, kind)
    files = {
        Path("pyproject.toml"): "pyproject.toml.tmpl",
        Path("README.md"): "README.md.tmpl",
        Path("src", variables["package"], "__init__.py"): f"{kind}.py.tmpl",
        Path("tests", "test_plugin.py"): "test_plugin.py.tmpl",
    }
    written = []
    for relative, template in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render(template, variables), encoding="utf-8")
        written.append(path)
    return written


@click.command("new-plugin")
@click.argument("name")
@click.option("--kind", type=click.Choice(list(KINDS)), default="degradation", show_default=True,
              help="Kind of the example component.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of the new distribution [default: ./restorefw-NAME].")
def new_plugin(name: str, kind: str, out: Path | None) -> None:
    """Scaffold the plugin distribution restorefw-NAME with an example component and its tests."""
    out = out if out is not None else Path("restorefw-" + name.replace("_", "-"))
    try:
        written = scaffold(name, kind, out)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: pip install -e {out}[test] && pytest {out}")
