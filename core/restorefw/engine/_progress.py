"""Progress display: a rich progress bar on terminals, periodic lines elsewhere."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

__all__ = ["Progress"]


class Progress:
    """Per-stage progress with the running loss."""

    def __init__(self, quiet: bool = False) -> None:
        from rich.console import Console

        self.quiet = quiet
        self.console = Console(stderr=True)

    @contextlib.contextmanager
    def stage(self, name: str, total: int, done: int) -> Iterator[Callable[[float], None]]:
        """Context yielding ``advance(loss)``."""
        if self.quiet or not sys.stderr.isatty():
            if not self.quiet:
                self.console.print(f"[bold]stage {name}[/]: {total} steps (from {done})")
            yield lambda loss: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("loss {task.fields[loss]:.4g}"), TimeRemainingColumn())
        with RichProgress(*columns, console=self.console, transient=False) as bar:
            task = bar.add_task(f"stage {name}", total=total, completed=done, loss=float("nan"))
            yield lambda loss: bar.update(task, advance=1, loss=loss)

    def note(self, stage: str, step: int, values: dict[str, float]) -> None:
        """Print evaluation results."""
        if not self.quiet:
            text = "  ".join(f"{k} {v:.4f}" for k, v in values.items())
            self.console.print(f"  [{stage} step {step}] {text}")
