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
from restorefw.engine._device import PRECISIONS, Precision, autocast, autocast_dtype, resolve_device, resolve_precision
from restorefw.engine._distributed import DistInfo
from restorefw.engine._isa import CpuIsa, cpu_isa
from restorefw.engine._precision import PrecisionSupport, Use, model_precision, precision_support
from restorefw.engine._evaluate import EvalPair, evaluate, make_eval_pairs, restore_image
from restorefw.engine._batches import BatchMaker, Prefetcher, batch_seed
from restorefw.engine._runner import STATE_FILE, RunInterrupted, Runner
from restorefw.engine._strategy import Batch, StepContext, Strategy

__all__ = [
    "PRECISIONS",
    "STATE_FILE",
    "Batch",
    "BatchMaker",
    "CpuIsa",
    "DistInfo",
    "EvalPair",
    "Precision",
    "PrecisionSupport",
    "Prefetcher",
    "RunInterrupted",
    "Runner",
    "StepContext",
    "Strategy",
    "Use",
    "atomic_write",
    "autocast",
    "autocast_dtype",
    "batch_seed",
    "cpu_isa",
    "evaluate",
    "load_state",
    "make_eval_pairs",
    "mapped_allocations",
    "model_precision",
    "precision_support",
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
