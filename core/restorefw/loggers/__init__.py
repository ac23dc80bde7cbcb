"""Loggers: where a run's numbers, sample pictures and events go.

A logger is registered like any component (``register_loggers`` hook, kind ``logger``) and chosen
in a recipe's ``[[loggers]]`` tables or with ``restorefw run --logger NAME``. It subclasses
:class:`Logger` and implements what it needs. The core ships ``jsonl`` (``metrics.jsonl`` and
``logs/events.jsonl``; always on) and ``tensorboard``. The engine feeds every logger from a
background thread of its own, so a slow or broken logger never holds up training: one that raises
is reported once and disabled.
"""

from restorefw.loggers._base import EVENTS, GROUPS, Logger, RunInfo, Step, flatten
from restorefw.loggers._jsonl import EVENTS_FILE, JsonlLogger, MetricsLog
from restorefw.loggers._tensorboard import TensorBoardConfig, TensorBoardLogger

__all__ = [
    "EVENTS",
    "EVENTS_FILE",
    "GROUPS",
    "JsonlLogger",
    "Logger",
    "MetricsLog",
    "RunInfo",
    "Step",
    "TensorBoardConfig",
    "TensorBoardLogger",
    "flatten",
]
