"""``restorefw run``: train and evaluate a recipe into a run folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from restorefw.cli._common import registry_for_cli, strict_option

__all__ = ["run"]


@click.command()
@click.argument("recipe", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              help="Run folder (default runs/<name>-<timestamp>).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe value (repeatable).")
@click.option("--resume", type=click.Path(file_okay=False, path_type=Path), help="Continue an interrupted run folder.")
@click.option("--device", help="Override run.device (auto, cpu, cuda, cuda:N).")
@click.option("--overwrite", is_flag=True, help="Replace an existing, non-empty run folder.")
@click.option("--auto-resume", is_flag=True,
              help="Resume --out if it holds an unfinished run of the same recipe; start it otherwise.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@strict_option
def run(recipe: Path | None, out: Path | None, overrides: tuple[str, ...], resume: Path | None,
        device: str | None, overwrite: bool, auto_resume: bool, quiet: bool, strict_plugins: bool | None) -> None:
    """Train the stages of RECIPE and write checkpoints, metrics, samples and plots."""
    import shutil

    from restorefw._errors import RunError
    from restorefw._recipe import load_recipe, resolve_recipe
    from restorefw.cli.validate import dry_build

    if resume is None and recipe is None:
        raise click.UsageError("give a RECIPE, or --resume DIR")
    registry = registry_for_cli(strict_plugins)
    if auto_resume:
        if out is None or resume is not None:
            raise click.UsageError("--auto-resume needs RECIPE and --out DIR (and no --resume)")
        if (out / "summary.json").exists():
            click.echo(f"run folder: {out} (already complete)")
            return
        if (out / "checkpoints" / "last.state.pt").exists():
            wanted = resolve_recipe(load_recipe(recipe, [*overrides]), registry, source=str(recipe))
            saved = resolve_recipe(load_recipe(out / "recipe.resolved.toml"), registry)
            if {**wanted, "run": {}} != {**saved, "run": {}}:
                raise RunError(f"'{out}' holds a run of a different recipe; use another --out or --overwrite")
            recipe, overrides, resume = None, (), out
    if resume is not None:
        if recipe is not None or overrides:
            raise click.UsageError("--resume takes the recipe from the run folder; drop RECIPE and --set")
        recipe, out = resume / "recipe.resolved.toml", resume
        if (resume / "summary.json").exists():
            raise RunError(f"run '{resume}' is already complete (summary.json exists)")
    extra = [*overrides, *([f"run.device={device!r}".replace("'", '"')] if device else [])]
    resolved = resolve_recipe(load_recipe(recipe, extra), registry, source=str(recipe))
    dry_build(resolved, registry)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if out is None:
        if world > 1:
            raise click.UsageError("under torchrun give --out DIR: every process must write to the same folder")
        out = Path("runs") / f"{resolved['run']['name']}-{time.strftime('%Y%m%d-%H%M%S')}"
    if resume is None and rank == 0 and out.exists() and any(out.iterdir()):
        if not overwrite:
            raise RunError(f"run folder '{out}' exists and is not empty; use --overwrite, or --resume {out}")
        shutil.rmtree(out)
    from restorefw.engine import Runner

    summary = Runner(resolved, registry, out, quiet=quiet).run(resume=resume is not None)
    if rank != 0:
        return
    for stage, record in summary["stages"].items():
        scores = "  ".join(f"{k} {v:.4f} (input {record.get('input', {}).get(k, float('nan')):.4f})"
                           for k, v in record.get("val", {}).items())
        click.echo(f"{stage}: {scores}".rstrip(": "))
    click.echo(f"run folder: {out}")
