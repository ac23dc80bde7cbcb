"""The run folder: recognisable by a marker, written by one process at a time, removed only when ours.

A folder counts as a run folder when it holds the marker file written at creation (or, for runs
made before markers existed, a ``recipe.resolved.toml`` and nothing but run files). ``--overwrite``
removes nothing else: not the working folder, a parent of it, a home folder, or a folder with
files a run does not write.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from restorefw._errors import RunError
from restorefw.weights import atomic_write

__all__ = ["LOCK", "MARKER", "RUN_ENTRIES", "RunFolder", "saved_steps"]

MARKER = ".restorefw-run"
LOCK = ".restorefw-run.lock"
STATE = "checkpoints/last.state.pt"
RUN_ENTRIES = frozenset({MARKER, LOCK, "recipe.resolved.toml", "checkpoints", "metrics.jsonl", "samples", "plots",
                         "summary.json", "logs", "eval.json", "eval.csv", "images", "strips"})
"""Top-level names a run or an evaluation writes; anything else is a foreign file that ``--overwrite`` will
not delete."""


def saved_steps(run_dir: Path, stage: str) -> list[int]:
    """The steps of the checkpoints ``checkpoints/<stage>-<step>.safetensors`` of a run folder, ascending.

    Only names whose part before the last ``-`` is ``stage`` count: stage ``a`` does not claim
    ``a-b-3.safetensors``, a checkpoint of stage ``a-b``.
    """
    steps = []
    for path in (run_dir / "checkpoints").glob(f"{stage}-*.safetensors"):
        name, _, step = path.stem.rpartition("-")
        if name == stage and step.isdigit():
            steps.append(int(step))
    return sorted(steps)


class RunFolder:
    """One run folder on disk and what it holds.

    Args:
        path: the folder (it may not exist yet).
        final: the file written last, whose presence means the folder is complete
            (``summary.json`` for a run, ``eval.json`` for an evaluation).
    """

    def __init__(self, path: str | Path, final: str = "summary.json") -> None:
        self.path = Path(path)
        self.final = final

    def __repr__(self) -> str:
        return f"RunFolder('{self.path}')"

    @property
    def has_outputs(self) -> bool:
        """The folder exists and holds something besides a lock file."""
        return self.path.is_dir() and any(p.name != LOCK for p in self.path.iterdir())

    @property
    def complete(self) -> bool:
        """The run finished (its final file, written last, exists)."""
        return (self.path / self.final).is_file()

    @property
    def in_use(self) -> bool:
        """A live process holds the folder's lock (a run writes it now).

        Probed by taking a shared lock and releasing it at once: a run that starts in that instant
        is refused, as if another run held the folder.
        """
        import fcntl

        try:
            fd = os.open(self.path / LOCK, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    @property
    def resumable(self) -> bool:
        """The run saved a training state to continue from."""
        return (self.path / STATE).is_file()

    def foreign_entries(self) -> list[str]:
        """Top-level names in the folder that no run writes."""
        if not self.path.is_dir():
            return []
        return sorted(p.name for p in self.path.iterdir() if p.name not in RUN_ENTRIES)

    @property
    def recognised(self) -> bool:
        """Whether the folder is a run folder (marker, or a pre-marker run with only run files)."""
        if (self.path / MARKER).is_file():
            return True
        return (self.path / "recipe.resolved.toml").is_file() and not self.foreign_entries()

    def create(self) -> None:
        """Make the folder and write the marker (before anything else, so a killed run is still ours)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"cannot create run folder '{self.path}': {exc.strerror or exc}") from None
        if not (self.path / MARKER).is_file():
            text = json.dumps({"format": 1, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pid": os.getpid()})
            atomic_write(self.path / MARKER, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    def clear(self) -> None:
        """Delete the run's files (not the lock, which the caller holds).

        Raises:
            RunError: the folder is not a run folder, holds foreign files, or is a folder that must
                never be removed (the working folder, one of its parents, a home folder, ``/``).
        """
        self.check_removable()
        for entry in self.path.iterdir():
            if entry.name == LOCK:
                continue
            try:
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            except OSError as exc:
                raise RunError(f"cannot remove '{entry}': {exc.strerror or exc}") from None

    def check_removable(self) -> None:
        """Raise :class:`RunError` unless :meth:`clear` may delete this folder's contents (see there)."""
        resolved = self.path.resolve()
        protected = {Path.cwd().resolve(), Path.home().resolve(), Path(resolved.anchor)}
        if resolved in protected or any(resolved in p.parents for p in protected if p != Path(resolved.anchor)):
            raise RunError(f"--overwrite refuses to delete '{self.path}': it is the working folder, a home folder, "
                           "or one of their parents")
        foreign = self.foreign_entries()
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise RunError(f"--overwrite refuses to delete '{self.path}': it holds files no run writes ({shown})")
        if not self.recognised:
            raise RunError(f"--overwrite refuses to delete '{self.path}': it is not a restorefw run folder")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's exclusive lock for the block (an advisory ``flock`` with our PID in it).

        The kernel releases the lock when its holder dies, so a lock file left by a crash is stale
        and taken over.

        Raises:
            RunError: another live process holds the lock; the message names its PID.
        """
        import fcntl

        self.path.mkdir(parents=True, exist_ok=True)
        path = self.path / LOCK
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                raise RunError(f"run folder '{self.path}' is in use by another restorefw process (PID {holder}); "
                               "wait for it to finish or use another --out") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)
