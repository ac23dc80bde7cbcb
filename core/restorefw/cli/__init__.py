"""The ``restorefw`` command line; one module per command, torch imported only inside commands."""

from __future__ import annotations

import click

from restorefw.cli._common import Group, run_cli
from restorefw.cli.convert import convert
from restorefw.cli.eval import eval_cmd
from restorefw.cli.export import export
from restorefw.cli.list import list_cmd
from restorefw.cli.new_plugin import new_plugin
from restorefw.cli.ops import ops
from restorefw.cli.plugins import plugins
from restorefw.cli.restore import restore
from restorefw.cli.run import run
from restorefw.cli.runs import runs
from restorefw.cli.schema import schema
from restorefw.cli.validate import validate
from restorefw.cli.weights import weights

__all__ = ["cli", "main"]


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="restorefw")
@click.option("--debug", is_flag=True, envvar="RESTOREFW_DEBUG",
              help="Show the full traceback of user errors and plugin exceptions [env: RESTOREFW_DEBUG=1].")
def cli(debug: bool) -> None:
    """restorefw: train, evaluate and apply image-restoration models from TOML recipes."""


for command in (run, runs, eval_cmd, validate, plugins, list_cmd, schema, restore, convert, export, weights,
                new_plugin, ops):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point (tunes glibc malloc first: see ``restorefw._malloc``)."""
    from restorefw._malloc import tune_malloc

    tune_malloc()
    run_cli(cli)
