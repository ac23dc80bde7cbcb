"""The engine: device and precision, batches, strategies, evaluation, the training loop and the eval job."""

from restorefw._malloc import mapped_allocations, trim_heap
from restorefw.engine._batches import BatchMaker, Prefetcher, batch_seed
from restorefw.engine._checks import check_recipe
from restorefw.engine._device import autocast, resolve_device, resolve_precision
from restorefw.engine._distributed import DistInfo
from restorefw.engine._eval_job import EvalOutcome, EvalRequest, run_eval
from restorefw.engine._evalmodels import is_model_argument, split_arguments
from restorefw.engine._evalsets import SetRequest
from restorefw.engine._evaltable import LEGEND, render_table
from restorefw.engine._evaluate import (
    EvalPair,
    baseline_image,
    degrade_seeded,
    evaluate,
    make_eval_pairs,
    restore_image,
    self_ensemble,
)
from restorefw.engine._job import RunOutcome, RunRequest, run_recipe
from restorefw.engine._restore import Restored, RestoreRequest, plan_outputs, restore_files, restore_job
from restorefw.engine._runfolder import RunFolder
from restorefw.engine._runner import STATE_FILE, RunInterrupted, Runner
from restorefw.engine._strategy import Batch, StepContext, Strategy

__all__ = [
    "LEGEND",
    "Batch",
    "BatchMaker",
    "DistInfo",
    "EvalOutcome",
    "EvalPair",
    "EvalRequest",
    "Prefetcher",
    "RestoreRequest",
    "Restored",
    "RunFolder",
    "RunInterrupted",
    "RunOutcome",
    "RunRequest",
    "Runner",
    "STATE_FILE",
    "SetRequest",
    "StepContext",
    "Strategy",
    "autocast",
    "baseline_image",
    "batch_seed",
    "check_recipe",
    "degrade_seeded",
    "evaluate",
    "is_model_argument",
    "make_eval_pairs",
    "mapped_allocations",
    "plan_outputs",
    "render_table",
    "resolve_device",
    "resolve_precision",
    "restore_files",
    "restore_image",
    "restore_job",
    "run_eval",
    "run_recipe",
    "self_ensemble",
    "split_arguments",
    "trim_heap",
]
