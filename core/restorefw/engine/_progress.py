"""Progress display: a rich progress bar on terminals, one plain line per log interval elsewhere."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

__all__ = ["Progress"]


class Progress:
    """Per-stage progress with the running loss and throughput.

    Args:
        quiet: print nothing.
    """

    def __init__(self, quiet: bool = False) -> None:
        from rich.console import Console

        self.quiet = quiet
        self.console = Console(stderr=True)

    @contextlib.contextmanager
    def stage(self, name: str, total: int, done: int, every: int = 10) -> Iterator[Callable[[float, int], None]]:
        """Context yielding ``advance(loss, images)``, called once per step.

        Args:
            name: the stage.
            total: its steps.
            done: steps already done (a resumed stage).
            every: steps between two lines when the output is not a terminal (logs, schedulers).
        """
        if self.quiet:
            yield lambda loss, images: None
            return
        if not sys.stderr.isatty():
            yield self._lines(name, total, done, every)
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("loss {task.fields[loss]:.4g}"), TimeRemainingColumn())
        with RichProgress(*columns, console=self.console, transient=False) as bar:
            task = bar.add_task(f"stage {name}", total=total, completed=done, loss=float("nan"))
            yield lambda loss, images: bar.update(task, advance=1, loss=loss)

    def _lines(self, name: str, total: int, done: int, every: int) -> Callable[[float, int], None]:
        self.console.print(f"stage {name}: {total} steps (from {done})", highlight=False, markup=False)
        state = {"step": done, "since": time.perf_counter(), "steps": 0, "images": 0}

        def advance(loss: float, images: int) -> None:
            state["step"] += 1
            state["steps"] += 1
            state["images"] += images
            if state["step"] % every and state["step"] != total:
                return
            elapsed = max(time.perf_counter() - state["since"], 1e-9)
            self.console.print(f"stage {name} step {state['step']}/{total}  loss {loss:.4g}  "
                               f"{state['steps'] / elapsed:.2f} steps/s  {state['images'] / elapsed:.1f} images/s",
                               highlight=False, markup=False)
            state.update(since=time.perf_counter(), steps=0, images=0)

        return advance

    @contextlib.contextmanager
    def counting(self, name: str, total: int, unit: str, every: int = 10) -> Iterator[Callable[[], None]]:
        """Context yielding ``advance()``, called once per ``unit`` of work (an evaluated image, ...).

        A rich bar on a terminal; elsewhere a line with the counts every ``every`` units and at the end.
        """
        if self.quiet:
            yield lambda: None
            return
        if not sys.stderr.isatty():
            self.console.print(f"{name}: {total} {unit}", highlight=False, markup=False)
            done = [0]

            def advance() -> None:
                done[0] += 1
                if done[0] % every == 0 or done[0] == total:
                    self.console.print(f"{name}: {done[0]}/{total} {unit}", highlight=False, markup=False)

            yield advance
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                   TimeRemainingColumn())
        with RichProgress(*columns, console=self.console, transient=False) as bar:
            task = bar.add_task(name, total=total)
            yield lambda: bar.update(task, advance=1)

    def message(self, text: str) -> None:
        """Print one line about the run (not a metric), e.g. a requested feature that is unavailable."""
        if not self.quiet:
            self.console.print(text, highlight=False, markup=False)

    def note(self, stage: str, step: int, values: dict[str, float]) -> None:
        """Print evaluation results."""
        if not self.quiet:
            text = "  ".join(f"{k} {v:.4f}" for k, v in values.items())
            self.console.print(f"  [{stage} step {step}] {text}", highlight=False, markup=False)
