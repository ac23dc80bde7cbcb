"""Signals as requests the training loop acts on between two steps.

Schedulers stop jobs with SIGTERM (``timeout``, SLURM, docker, Kubernetes) and warn of pre-emption
with SIGUSR1; users press Ctrl-C. Acting between steps keeps every saved checkpoint at a step
boundary, so a resumed run continues bit for bit. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["EXIT_CODES", "SignalRequests"]

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
"""The conventional exit status after each stopping signal (128 + its number)."""


class SignalRequests:
    """What the signals received so far ask for: stop (after saving) or just save.

    Attributes:
        stop: the stopping signal received (SIGINT or SIGTERM), if any.
        save: SIGUSR1 was received since the last save.
    """

    def __init__(self) -> None:
        self.stop: signal.Signals | None = None
        self.save = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        received = signal.Signals(signum)
        if received == signal.SIGUSR1:
            self.save = True
        elif received == signal.SIGINT and self.stop is not None:
            raise KeyboardInterrupt
        else:
            self.stop = received

    @contextlib.contextmanager
    def installed(self) -> Iterator[SignalRequests]:
        """Handle SIGINT, SIGTERM and SIGUSR1 for the block (main thread only), then restore the old handlers."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        wanted = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGUSR1", None)) if s is not None]
        previous = {s: signal.signal(s, self._handle) for s in wanted}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
