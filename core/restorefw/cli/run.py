"""``restorefw run``: train and evaluate a recipe into a run folder."""

from __future__ import annotations

from pathlib import Path

import click

from restorefw.cli._common import registry_for_cli, strict_option
from restorefw.cli.eval import show_evaluation

__all__ = ["run"]


@click.command()
@click.argument("recipe", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              help="Run folder (default runs/<name>-<timestamp>).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe value (repeatable).")
@click.option("--resume", type=click.Path(file_okay=False, path_type=Path), help="Continue an interrupted run folder.")
@click.option("--device", help="Override run.device (auto, cpu, cuda, cuda:N).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
              help="Override run.precision (auto: bf16 where the hardware has bf16 matrix units).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it is a run folder (never any other folder).")
@click.option("--auto-resume", is_flag=True,
              help="Resume --out if it holds an unfinished run of the same recipe; start it otherwise.")
@click.option("--logger", "loggers", multiple=True, metavar="NAME",
              help="Also log to NAME (tensorboard, or a plugin's logger; repeatable); metrics.jsonl is always written.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@strict_option
def run(recipe: Path | None, out: Path | None, overrides: tuple[str, ...], resume: Path | None,
        device: str | None, precision: str | None, overwrite: bool, auto_resume: bool, loggers: tuple[str, ...],
        quiet: bool, strict_plugins: bool | None) -> None:
    """Train the stages of RECIPE and write checkpoints, metrics, samples and plots."""
    from restorefw.engine import RunRequest, run_recipe

    if resume is None and recipe is None:
        raise click.UsageError("give a RECIPE, or --resume DIR")
    if auto_resume and (out is None or resume is not None or recipe is None):
        raise click.UsageError("--auto-resume needs RECIPE and --out DIR (and no --resume)")
    if resume is not None and (recipe is not None or overrides or out is not None):
        raise click.UsageError("--resume takes the recipe and folder from the run folder; drop RECIPE, --set and --out")
    request = RunRequest(recipe=recipe, out=out, overrides=overrides, resume=resume, auto_resume=auto_resume,
                         overwrite=overwrite, device=device, precision=precision, quiet=quiet, loggers=loggers)
    outcome = run_recipe(request, registry_for_cli(strict_plugins))
    if outcome.already_complete:
        click.echo(f"run folder: {outcome.out} (already complete)")
        return
    if not outcome.is_main:
        return
    if outcome.evaluated:
        show_evaluation(outcome.summary, outcome.out)
        return
    for stage, record in outcome.summary["stages"].items():
        scores = "  ".join(f"{k} {v:.4f} (input {record.get('input', {}).get(k, float('nan')):.4f})"
                           for k, v in record.get("val", {}).items())
        click.echo(f"{stage}: {scores}".rstrip(": "))
    click.echo(f"run folder: {outcome.out}")
