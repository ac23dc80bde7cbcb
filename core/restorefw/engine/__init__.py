"""The engine: device/precision, checkpoints, evaluation and the training loop."""

from restorefw._malloc import mapped_allocations, trim_heap
from restorefw.engine._checkpoint import (
    atomic_write,
    load_state,
    read_metadata,
    read_state_dict,
    save_state,
    save_weights,
    unwrap_state_dict,
)
from restorefw.engine._device import autocast, resolve_device, resolve_precision
from restorefw.engine._distributed import DistInfo
from restorefw.engine._evaluate import EvalPair, evaluate, make_eval_pairs, restore_image
from restorefw.engine._batches import BatchMaker, Prefetcher, batch_seed
from restorefw.engine._runner import STATE_FILE, RunInterrupted, Runner
from restorefw.engine._strategy import Batch, StepContext, Strategy

__all__ = [
    "STATE_FILE",
    "Batch",
    "BatchMaker",
    "DistInfo",
    "EvalPair",
    "Prefetcher",
    "RunInterrupted",
    "Runner",
    "StepContext",
    "Strategy",
    "atomic_write",
    "autocast",
    "batch_seed",
    "evaluate",
    "load_state",
    "make_eval_pairs",
    "mapped_allocations",
    "read_metadata",
    "read_state_dict",
    "restore_image",
    "resolve_device",
    "resolve_precision",
    "save_state",
    "save_weights",
    "trim_heap",
    "unwrap_state_dict",
]
