"""The engine: device and precision, batches, strategies, evaluation, the training loop, the eval job and run
folders read back."""

from restorefw._malloc import mapped_allocations, trim_heap
from restorefw.engine._batches import BatchMaker, Prefetcher, batch_seed
from restorefw.engine._checks import check_recipe
from restorefw.engine._compare import Comparison, compare_runs, recipe_differences
from restorefw.engine._device import PRECISIONS, autocast, autocast_dtype, resolve_device, resolve_precision
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
from restorefw.engine._isa import CpuIsa, cpu_isa
from restorefw.engine._job import RunOutcome, RunRequest, run_recipe
from restorefw.engine._restore import Restored, RestoreRequest, plan_outputs, restore_files, restore_job
from restorefw.engine._runfolder import RUN_ENTRIES, RunFolder
from restorefw.engine._runner import STATE_FILE, RunInterrupted, Runner
from restorefw.engine._runs import STATUSES, RunRecord, list_runs, read_run, recipe_hash
from restorefw.engine._strategy import Batch, StepContext, Strategy

__all__ = [
    "Batch",
    "BatchMaker",
    "Comparison",
    "CpuIsa",
    "DistInfo",
    "EvalOutcome",
    "EvalPair",
    "EvalRequest",
    "LEGEND",
    "PRECISIONS",
    "Prefetcher",
    "RUN_ENTRIES",
    "RestoreRequest",
    "Restored",
    "RunFolder",
    "RunInterrupted",
    "RunOutcome",
    "RunRecord",
    "RunRequest",
    "Runner",
    "STATE_FILE",
    "STATUSES",
    "SetRequest",
    "StepContext",
    "Strategy",
    "autocast",
    "autocast_dtype",
    "baseline_image",
    "batch_seed",
    "check_recipe",
    "compare_runs",
    "cpu_isa",
    "degrade_seeded",
    "evaluate",
    "is_model_argument",
    "list_runs",
    "make_eval_pairs",
    "mapped_allocations",
    "plan_outputs",
    "read_run",
    "recipe_differences",
    "recipe_hash",
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
