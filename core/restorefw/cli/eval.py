"""``restorefw eval``: score models on test sets by the papers' protocols, print one table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from restorefw.cli._common import registry_for_cli, strict_option

__all__ = ["eval_cmd", "show_evaluation"]


def show_evaluation(summary: dict[str, Any], out: Path) -> None:
    """Print an evaluation's table, what its marks mean, and its folder."""
    from rich.console import Console

    from restorefw.engine import LEGEND, render_table

    # Off a terminal (logs, files), a wide fixed width keeps every column on one line.
    Console(width=None if sys.stdout.isatty() else 200).print(render_table(summary))
    click.echo(f"{LEGEND}\nevaluation folder: {out}")


@click.command("eval")
@click.argument("arguments", nargs=-1, required=True, metavar="MODEL... [SET...]", type=click.Path(path_type=Path))
@click.option("--protocol", help="A named protocol (sr, restore, sr_ipt, mzsr, denoise_restormer, derain_restormer, "
                                 "denoise_ipt, derain_ipt); default: mzsr, sr or restore by test set.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Change a key: protocol.KEY (protocol.crop_border=0), layout.KEY (a layout option, "
                   "layout.kernel=g20) or task.KEY (task.sigma=50); values parse as TOML. Repeatable.")
@click.option("--task", help="Task that degrades test sets of ground truth only (default: the models').")
@click.option("--scale", type=click.IntRange(min=1), help="Scale of every set (default: each model's).")
@click.option("--layout", help="Layout of every set (default: detected; see 'restorefw list layout').")
@click.option("--label", "labels", multiple=True, help="Row name of each MODEL, in order (repeatable).")
@click.option("--arch", help="Model official checkpoints are imported as (as for 'restorefw convert').")
@click.option("--device", help="auto, cpu, cuda or cuda:N (default auto; a run's own for its validation set).")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16", "auto"]),
              help="Inference precision (default fp32; a run's own for its validation set).")
@click.option("--tile", type=click.IntRange(min=1), help="Tile size for large images (default: whole images).")
@click.option("--tile-overlap", type=click.IntRange(min=0), default=32, show_default=True)
@click.option("--save-images", is_flag=True, help="Write restored images and side-by-side strips.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder (default runs/eval-<time>).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it is a restorefw folder (never any other folder).")
@click.option("--limit", type=click.IntRange(min=1), help="Score the first N images of each set.")
@click.option("--seed", type=int, help="Seed of the degradations of ground-truth-only sets (protocol.seed).")
@click.option("--quiet", is_flag=True, help="No progress output.")
@strict_option
def eval_cmd(arguments: tuple[Path, ...], protocol: str | None, overrides: tuple[str, ...], task: str | None,
             scale: int | None, layout: str | None, labels: tuple[str, ...], arch: str | None, device: str | None,
             precision: str | None, tile: int | None, tile_overlap: int, save_images: bool, out: Path | None,
             overwrite: bool, limit: int | None, seed: int | None, quiet: bool, strict_plugins: bool | None) -> None:
    """Score each MODEL on each SET; print one table; write eval.json and eval.csv.

    MODEL: a run folder, a restorefw .safetensors, an official checkpoint (what 'restorefw convert' reads)
    or a recipe .toml. SET: a test-set folder in a known layout (mzsr, sr_pack, paired, gt_only, or a
    plugin's). Without SET, each run or recipe is scored on its own [eval] sets, else its validation set.
    """
    from restorefw.engine import EvalRequest, SetRequest, run_eval, split_arguments

    models, sets = split_arguments(arguments)
    request = EvalRequest(models=tuple(models), sets=tuple(SetRequest(str(s)) for s in sets), out=out,
                          overwrite=overwrite, labels=labels, arch=arch, protocol=protocol, overrides=overrides,
                          task=task, scale=scale, layout=layout, device=device, precision=precision, tile=tile,
                          tile_overlap=tile_overlap, save_images=save_images, limit=limit, seed=seed, quiet=quiet)
    outcome = run_eval(request, registry_for_cli(strict_plugins))
    show_evaluation(outcome.summary, outcome.out)
