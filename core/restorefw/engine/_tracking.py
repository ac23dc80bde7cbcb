"""The run's loggers, fed off the training path: one queue and one background thread per logger.

The training loop only puts records in queues. Each logger's thread hands them over in order, so
a slow logger (a network tracker, a full disk) delays nothing but itself, and a logger that raises
is reported once, on stderr, and disabled. Flushes (checkpoints, stage ends, the end of a session)
wait for the loggers, but at most ``FLUSH_TIMEOUT_S``: a logger still busy then is disabled too.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from restorefw._recipe import Recipe, dump_recipe
from restorefw._registry import Registry
from restorefw.loggers import RunInfo, Step

__all__ = ["FLUSH_TIMEOUT_S", "Tracker"]

FLUSH_TIMEOUT_S = 60.0
"""How long a flush or the end of a session waits for a logger before giving up on it."""

_STOP = object()

Report = Callable[[str], None]


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class _Feed:
    """One logger behind its queue and thread; disabled for good after its first failure."""

    def __init__(self, label: str, logger: Any, report: Report) -> None:
        self.label, self.logger, self.report = label, logger, report
        self.failed = False
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._drain, name=f"restorefw {label}", daemon=True)

    def put(self, method: str, *args: Any) -> None:
        if not self.failed:
            self.queue.put((method, args))

    def fail(self, reason: str) -> None:
        if not self.failed:
            self.failed = True
            self.report(f"warning: {self.label} failed and is disabled; the run goes on: {reason}")

    def _drain(self) -> None:
        while (item := self.queue.get()) is not _STOP:
            if isinstance(item, threading.Event):
                self._call("flush", ())
                item.set()
            else:
                self._call(*item)

    def _call(self, method: str, args: tuple[Any, ...]) -> None:
        if self.failed:
            return
        try:
            getattr(self.logger, method)(*args)
        except Exception as exc:
            self.fail(f"{method}() raised {type(exc).__name__}: {exc}")

    def wait(self, done: threading.Event, deadline: float, what: str) -> None:
        if not done.wait(max(0.0, deadline - time.monotonic())):
            self.fail(f"{what} took longer than {FLUSH_TIMEOUT_S:g} s")


class Tracker:
    """The loggers of one run (none on the non-main processes of a distributed run).

    Args:
        feeds: the loggers, each behind its queue.
    """

    def __init__(self, feeds: Sequence[_Feed] = ()) -> None:
        self.feeds = list(feeds)
        self.at = Step("", 0, 0)
        self._images, self._since = 0, (time.perf_counter(), 0)

    @classmethod
    def for_run(cls, registry: Registry, specs: Sequence[Mapping[str, Any]], enabled: bool = True,
                report: Report = _to_stderr) -> Tracker:
        """Build the resolved logger ``specs`` of a recipe, ``jsonl`` first (always on).

        A logger that cannot be built is reported and left out.
        """
        if not enabled:
            return cls()
        unique: list[Mapping[str, Any]] = []
        for spec in [{"type": "jsonl"}, *specs]:
            if spec not in unique and not (spec["type"] == "jsonl" and unique):
                unique.append(spec)
        feeds = []
        for spec in unique:
            entry = registry.get("logger", spec["type"])
            feed = _Feed(f"logger '{entry.name}' from {entry.origin}", None, report)
            try:
                feed.logger = registry.build("logger", dict(spec))
            except Exception as exc:
                feed.fail(f"it could not be built: {type(exc).__name__}: {exc}")
                continue
            feeds.append(feed)
        return cls(feeds)

    @contextlib.contextmanager
    def session(self, plan: Recipe, folder: Path, resumed_from: Step | None,
                interrupts: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
        """Start the loggers for the block, which trains; how it ends is the session's last event.

        Args:
            plan: the run's recipe.
            folder: the run folder.
            resumed_from: the checkpoint a resumed run continues from.
            interrupts: exceptions that mean "stopped, resumable" (besides ``KeyboardInterrupt``).
        """
        recipe = plan.model_dump(mode="python")
        info = RunInfo(folder, plan.run.name, recipe, dump_recipe(recipe), resumed_from)
        self.at = resumed_from or Step(plan.stages[0].name, 0, 0)
        self._since, started = (time.perf_counter(), self.at.global_step), time.perf_counter()
        for feed in self.feeds:
            feed.thread.start()
            feed.put("start", info)
        self.event(self.at, "resume" if resumed_from else "start")
        try:
            yield
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, *interrupts)):
                self.event(self.at, "interrupt", message=str(exc) or "interrupted",
                           exit_code=getattr(exc, "exit_code", 130))
            else:
                self.event(self.at, "error", message=f"{type(exc).__name__}: {exc}")
            raise
        else:
            self.event(self.at, "end", wall_time_s=time.perf_counter() - started)
        finally:
            self.close()

    def count(self, images: int) -> None:
        """One optimizer step over ``images`` images (all processes together): the throughput's numerator."""
        self._images += images

    def scalars(self, at: Step, values: Mapping[str, Any], group: str = "train") -> None:
        """Queue numbers for every logger; a ``train`` record also gives the throughput since the last one."""
        self.at = at
        self._put("scalars", at, dict(values), group)
        if group != "train":
            return
        now, (since, step) = time.perf_counter(), self._since
        if at.global_step > step:
            elapsed = max(now - since, 1e-9)
            self._put("scalars", at, {"steps_per_s": (at.global_step - step) / elapsed,
                                      "images_per_s": self._images / elapsed}, "speed")
        self._images, self._since = 0, (now, at.global_step)

    def image(self, at: Step, tag: str, image: Tensor) -> None:
        """Queue a ``(C, H, W)`` picture in [0, 1]; loggers get it as ``uint8`` ``(H, W, C)``."""
        if self.feeds:
            pixels = image.detach().float().cpu().clamp(0, 1).mul(255).round().to(torch.uint8)
            self._put("image", at, tag, pixels.permute(1, 2, 0).contiguous().numpy())

    def event(self, at: Step, name: str, **detail: Any) -> None:
        """Queue a run event (see :data:`restorefw.loggers.EVENTS`)."""
        self.at = at
        self._put("event", at, name, detail)

    def flush(self) -> None:
        """Wait until every logger has handled what was queued and flushed it (or the timeout passed)."""
        deadline = time.monotonic() + FLUSH_TIMEOUT_S
        pending = []
        for feed in self.feeds:
            if not feed.failed:
                done = threading.Event()
                feed.queue.put(done)
                pending.append((feed, done))
        for feed, done in pending:
            feed.wait(done, deadline, "a flush")

    def close(self) -> None:
        """Flush, close every logger and end their threads."""
        self.flush()
        deadline = time.monotonic() + FLUSH_TIMEOUT_S
        for feed in self.feeds:
            feed.put("close")
            feed.queue.put(_STOP)
        for feed in self.feeds:
            feed.thread.join(max(0.0, deadline - time.monotonic()))
            if feed.thread.is_alive():
                feed.fail("close() did not return")

    def _put(self, method: str, *args: Any) -> None:
        for feed in self.feeds:
            feed.put(method, *args)
