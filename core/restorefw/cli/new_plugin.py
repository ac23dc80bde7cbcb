"""``restorefw new-plugin``: scaffold a plugin distribution, of one kind or several, that passes the conformance kit."""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

import click

__all__ = ["KINDS", "new_plugin", "scaffold"]


@dataclass(frozen=True)
class _Kind:
    """One kind of example component.

    Attributes:
        what: how the summary names it (``degradation``, ``head and tail``).
        exports: the names its module gives the package (templates).
        usage: how a recipe (or code) uses it, as a Markdown code block (template).
    """

    what: str
    exports: tuple[str, ...]
    usage: str


def _toml(text: str) -> str:
    return f"```toml\n{text}\n```"


KINDS: dict[str, _Kind] = {
    "dataset": _Kind("dataset", ("${Name}Dataset", "${Name}DatasetConfig", "register_datasets"),
                     _toml('[data]\ntrain = { type = "${name}", count = 8, size = 96 }')),
    "degradation": _Kind("degradation", ("${Name}Degradation", "${Name}DegradationConfig", "register_degradations"),
                         _toml('[task]\ntype = "custom"\ndegradation = { type = "${name}", amount = 0.05 }')),
    "head_tail": _Kind("head and tail", ("${Name}Head", "${Name}HeadConfig", "${Name}Tail", "${Name}TailConfig",
                                         "register_heads_tails"),
                       _toml('[model]\ntype = "ipt"\nscales = [1]\nheads = [{ type = "${name}.head" }]\n'
                             'tails = [{ type = "${name}.tail" }]')),
    "kernel": _Kind("blur kernels", ("${Name}Kernels", "${Name}KernelsConfig", "register_kernels"),
                    _toml('[task]\ntype = "deblur"\nkernel = { type = "${name}", radius_max = 3.0 }')),
    "layout": _Kind("test-set layout", ("${Name}Layout", "register_layouts"),
                    _toml('[eval]\nsets = [{ path = "datasets/${name}_set", layout = "${name}" }]')),
    "logger": _Kind("logger", ("${Name}Logger", "${Name}LoggerConfig", "register_loggers"),
                    _toml('[[loggers]]\ntype = "${name}"')),
    "loss": _Kind("loss", ("${Name}Loss", "${Name}LossConfig", "register_losses"),
                  _toml('[[stages]]\nname = "train"\nsteps = 100\nloss = { type = "${name}", edge_weight = 0.5 }')),
    "metric": _Kind("metric", ("${Name}Metric", "${Name}MetricConfig", "register_metrics"),
                    _toml('[eval]\nmetrics = ["psnr", { type = "${name}" }]')),
    "model": _Kind("model", ("${Name}Net", "${Name}NetConfig", "register_models"),
                   _toml('[model]\ntype = "${name}"\nchannels = 32')),
    "op": _Kind("op", ("${name}_shrink", "${name}_shrink_fused", "${name}_shrink_samples", "register_ops"),
                "```python\nfrom restorefw.ops import OpsModule\n\n\nclass Shrink(OpsModule):\n"
                "    def __init__(self) -> None:\n        super().__init__()\n"
                '        self.use_op("_shrink", "${name}.shrink")  # resolved once, when the model is built\n\n'
                "    def forward(self, x):\n        return self._shrink(x, 0.1)\n```"),
    "optimizer": _Kind("optimizer", ("${Name}OptimizerConfig", "${name}_optimizer", "register_optimizers"),
                       _toml('[[stages]]\nname = "train"\nsteps = 100\noptimizer = { type = "${name}", lr = 1e-3 }')),
    "scheduler": _Kind("learning-rate schedule", ("${Name}ScheduleConfig", "${name}_schedule", "register_schedulers"),
                       _toml('[[stages]]\nname = "train"\nsteps = 100\n'
                             'scheduler = { type = "${name}", warmup_steps = 10 }')),
    "strategy": _Kind("training strategy", ("${Name}Strategy", "${Name}StrategyConfig", "register_strategies"),
                      _toml('[[stages]]\nname = "train"\nsteps = 100\n'
                            'strategy = { type = "${name}", warmup_steps = 50, freeze = ["head"] }')),
    "task": _Kind("task", ("${Name}TaskConfig", "${Name}Quantise", "${name}_task", "register_tasks"),
                  _toml('[task]\ntype = "${name}"\nlevels = 16')),
}
"""Every kind ``new-plugin`` scaffolds, by ``--kind`` name (``head_tail`` registers a head and a tail)."""

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")


def _variables(name: str, kinds: Sequence[str]) -> dict[str, str]:
    snake = name.replace("-", "_")
    whats = [KINDS[k].what for k in kinds]
    listed = whats[0] if len(whats) == 1 else ", ".join(whats[:-1]) + " and " + whats[-1]
    return {
        "name": snake,
        "Name": "".join(part.capitalize() for part in snake.split("_")),
        "dist": "restorefw-" + snake.replace("_", "-"),
        "package": "restorefw_" + snake,
        "summary": f"the {snake} {listed}",
    }


def _render(template: str, variables: dict[str, str]) -> str:
    text = resources.files("restorefw.cli").joinpath("_templates", template).read_text(encoding="utf-8")
    return Template(text).substitute(variables)


def _package_init(kinds: Sequence[str], variables: dict[str, str]) -> dict[str, str]:
    """The ``imports`` and ``exports`` of the package's ``__init__.py``: every kind module's names."""
    imports, exports = [], []
    for kind in kinds:
        names = sorted(Template(n).substitute(variables) for n in KINDS[kind].exports)
        imports.append(f"from {variables['package']}._{kind} import {', '.join(names)}")
        exports += names
    return {"imports": "\n".join(imports),
            "exports": "\n".join(f'    "{n}",' for n in sorted([*exports, "RESTOREFW_API_VERSION"]))}


def scaffold(name: str, kinds: str | Sequence[str], out: Path) -> list[Path]:
    """Write the distribution ``restorefw-<name>`` with an example component of each kind into ``out``.

    Names, classes and texts follow the plugin's name (``haze`` registers the degradation ``haze``
    as ``HazeDegradation``, a head and tail as ``haze.head`` and ``haze.tail``). Each kind gets its
    own module and test file; the tests pass as written.

    Returns:
        The files written.

    Raises:
        ValueError: invalid name or kind, or ``out`` exists and is not empty.
    """
    kinds = [kinds] if isinstance(kinds, str) else list(dict.fromkeys(kinds))
    if not _NAME.match(name):
        raise ValueError(f"invalid plugin name '{name}': use lowercase letters, digits, '_' or '-', "
                         "starting with a letter")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"unknown kind '{(unknown or [''])[0]}'; choose from {', '.join(KINDS)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"'{out}' already exists and is not an empty directory")
    kinds = sorted(kinds)
    variables = _variables(name, kinds)
    usage = "\n\n".join(f"{KINDS[k].what.capitalize()}:\n\n{Template(KINDS[k].usage).substitute(variables)}"
                        for k in kinds)
    docline = textwrap.fill(f"{variables['dist']}: {variables['summary']}.", 100, subsequent_indent="")
    variables.update(_package_init(kinds, variables), usage=usage, docline=docline)
    package = Path("src", variables["package"])
    files = {Path("pyproject.toml"): "pyproject.toml.tmpl", Path("README.md"): "README.md.tmpl",
             package / "__init__.py": "__init__.py.tmpl", Path("tests", "conftest.py"): "conftest.py.tmpl"}
    for kind in kinds:
        files[package / f"_{kind}.py"] = f"{kind}.py.tmpl"
        files[Path("tests", f"test_{kind}.py")] = f"test_{kind}.py.tmpl"
    written = []
    for relative, template in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render(template, variables), encoding="utf-8")
        written.append(path)
    return written


@click.command("new-plugin")
@click.argument("name")
@click.option("--kind", "kinds", multiple=True, type=click.Choice([*KINDS, "all"]), default=("degradation",),
              show_default=True, help="Kind of example component; repeat it for several, or 'all'.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of the new distribution [default: ./restorefw-NAME].")
def new_plugin(name: str, kinds: tuple[str, ...], out: Path | None) -> None:
    """Scaffold the plugin distribution restorefw-NAME with example components and their tests."""
    out = out if out is not None else Path("restorefw-" + name.replace("_", "-"))
    try:
        written = scaffold(name, list(KINDS) if "all" in kinds else kinds, out)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: pip install -e {out}[test] && pytest {out}")
