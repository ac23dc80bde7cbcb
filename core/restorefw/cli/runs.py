"""``restorefw runs``: the runs in a folder, one run in detail, several runs compared."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

__all__ = ["runs"]


class _RunsGroup(click.Group):
    """``restorefw runs [DIR]`` lists (``list`` is implied); ``show`` and ``compare`` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in (*self.commands, "-h", "--help"):
            args = ["list", *args]
        return super().parse_args(ctx, args)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "-" if value is None else str(value)


def _value(value: Any) -> str:
    """A recipe value as in TOML; a whole table (a stage one run lacks) by its name or type (--json has it all)."""
    if value is None:
        return "(unset)"
    if isinstance(value, Mapping):
        names = [f"{key} = {json.dumps(value[key])}" for key in ("name", "type") if key in value][:1]
        return "{" + ", ".join([*names, "..."]) + "}"
    return json.dumps(value)


def _scores(metrics: dict[str, float]) -> str:
    return "  ".join(f"{name} {_number(value)}" for name, value in metrics.items()) or "-"


@click.group(cls=_RunsGroup)
def runs() -> None:
    """Runs in a folder (restorefw runs [DIR]), one in detail (show), several side by side (compare)."""


@runs.command("list")
@click.argument("folder", required=False, default="runs", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def runs_list(folder: Path, as_json: bool) -> None:
    """The runs in FOLDER (default: runs): status, stages, steps, final metrics, wall time, recipe hash."""
    from restorefw.engine import list_runs

    found = list_runs(folder)
    if as_json:
        click.echo(json.dumps({"runs": [run.as_json() for run in found]}, indent=2))
        return
    if not found:
        click.echo(f"no run folders in {folder}")
        return
    _table(["run", "status", "stages", "steps", "final metrics", "wall time", "recipe"],
           [[run.name, run.status, f"{run.stages_done}/{len(run.stages)}", f"{run.steps}/{run.total_steps}",
             _scores(run.metrics), _duration(run.wall_time_s), (run.recipe_hash or "-")[:12]] for run in found])


@runs.command()
@click.argument("run", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(run: Path, as_json: bool) -> None:
    """One run: status, progress, final metrics, and where its samples, plots and logs are."""
    from restorefw.engine import STATUSES, read_run

    record = read_run(run)
    if as_json:
        click.echo(json.dumps(record.as_json(), indent=2))
        return
    lines = [("run", f"{record.name}  {record.path}"), ("status", f"{record.status}: {STATUSES[record.status]}"),
             *([("message", record.message)] if record.message else []),
             ("stages", f"{', '.join(record.stages)} ({record.stages_done} of {len(record.stages)} done)"),
             ("steps", f"{record.steps} of {record.total_steps}"), ("wall time", _duration(record.wall_time_s)),
             ("recipe", f"sha256 {record.recipe_hash or '-'}"), ("metrics", _scores(record.metrics)),
             ("samples", f"{record.path / 'samples'} ({len(record.samples)} pictures)")]
    lines += [("", str(path)) for path in record.samples]
    for name in ("plots", "logs"):
        if (record.path / name).is_dir():
            lines.append((name, str(record.path / name)))
    if record.status in ("interrupted", "resumable", "failed") and (record.path / "checkpoints").is_dir():
        lines.append(("continue", f"restorefw run --resume {record.path}"))
    for key, value in lines:
        click.echo(f"{key + ':' if key else '':<11}{value}")


@runs.command()
@click.argument("run_folders", nargs=-1, required=True, metavar="RUN RUN...",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the plots [default: runs-compare-<time> in the working folder].")
@click.option("--overwrite", is_flag=True, help="Replace plots that exist in --out.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def compare(run_folders: tuple[Path, ...], out: Path | None, overwrite: bool, as_json: bool) -> None:
    """Recipe differences, a table of final metrics, and a plot of each metric over steps for all the runs."""
    from restorefw.engine import compare_runs

    out = out if out is not None else Path(f"runs-compare-{time.strftime('%Y%m%d-%H%M%S')}")
    result = compare_runs(run_folders, out, overwrite=overwrite)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2, default=str))
        return
    if result.differences:
        click.echo("recipe differences:")
        _table(["key", *result.labels], [[key, *(_value(v) for v in values)]
                                         for key, values in result.differences.items()])
    else:
        click.echo("recipes: the same")
    click.echo("\nfinal metrics:")
    _table(["run", "status", "steps", *result.metrics],
           [[label, run.status, f"{run.steps}/{run.total_steps}",
             *(_number(run.metrics.get(metric)) for metric in result.metrics)]
            for label, run in zip(result.labels, result.runs, strict=True)])
    click.echo(f"\nplots ({len(result.plots)}): {out}")
    for path in result.plots:
        click.echo(f"  {path}")
