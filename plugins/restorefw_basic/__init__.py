"""restorefw_basic: degradations, kernels, tasks, losses, metrics, datasets, a CNN baseline
and the supervised strategy. Registered through the ``restorefw`` entry-point group."""

from restorefw_basic._hooks import (
    register_datasets,
    register_degradations,
    register_kernels,
    register_losses,
    register_metrics,
    register_models,
    register_ops,
    register_strategies,
    register_tasks,
)

__all__ = [
    "register_datasets",
    "register_degradations",
    "register_kernels",
    "register_losses",
    "register_metrics",
    "register_models",
    "register_ops",
    "register_strategies",
    "register_tasks",
]
